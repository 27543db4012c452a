DELETE FROM run_inputs WHERE run_id = %(run_id)s
