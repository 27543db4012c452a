DELETE FROM run_skips WHERE run_id = %(run_id)s
