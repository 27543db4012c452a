SELECT 1 FROM runs WHERE id = %(run_id)s AND submitted_at IS NOT NULL AND finished_at IS NULL
