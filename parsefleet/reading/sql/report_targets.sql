-- The targets of a run that were not submitted (a bad `--from` line, a listing that failed), in order.
SELECT origin, target, error FROM run_targets
 WHERE run_id = %(run_id)s AND error IS NOT NULL
 ORDER BY ordinal
