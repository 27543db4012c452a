SELECT language, reason, files FROM run_skips WHERE run_id = %(run_id)s ORDER BY language, reason
