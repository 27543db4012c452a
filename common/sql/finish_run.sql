-- Mark a run finished once every batch has a result. Run only for submitted, unfinished runs
-- (see runs.py): the count then covers at most the batches still queued at submit time.
UPDATE runs
   SET finished_at = now()
 WHERE id = %(run_id)s
   AND finished_at IS NULL
   AND batches_total <= (SELECT count(*) FROM batch_results WHERE run_id = %(run_id)s)
