-- Mark a run finished once every batch has a result, in one statement: a run not yet submitted
-- (or already finished) costs a primary-key lookup, the count runs only for a submitted, unfinished
-- run and then covers at most the batches still queued at submit time. A batch split in n parts
-- (workers/poison.py) has a row of its own and n rows to come: it counts 1 - n until they do.
UPDATE runs
   SET finished_at = now()
 WHERE id = %(run_id)s
   AND submitted_at IS NOT NULL
   AND finished_at IS NULL
   AND batches_total <= (SELECT count(*) - coalesce(sum(split_into), 0) FROM batch_results WHERE run_id = %(run_id)s)
