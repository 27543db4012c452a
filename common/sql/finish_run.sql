-- Mark a run finished once it is submitted and every batch has a result (safe to run any time).
UPDATE runs
   SET finished_at = now()
 WHERE id = %(run_id)s
   AND finished_at IS NULL
   AND submitted_at IS NOT NULL
   AND batches_total <= (SELECT count(*) FROM batch_results WHERE run_id = %(run_id)s)
