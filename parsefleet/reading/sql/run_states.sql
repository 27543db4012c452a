-- Runs, newest first: one run (%(run_id)s), or the latest %(limit)s. batches_total counts the parts of
-- split batches (workers/poison.py); the split batch stays counted as done; withdrawn files are not done.
SELECT r.id::text AS run_id, r.targets, r.started_at, r.submitted_at, r.finished_at, r.cancelled_at,
       r.batches_total + (SELECT coalesce(sum(split_into), 0) FROM batch_results b WHERE b.run_id = r.id)::int
           AS batches_total,
       (SELECT count(*) FROM batch_results b WHERE b.run_id = r.id)::int AS batches_done,
       (SELECT coalesce(sum(files - cancelled), 0) FROM batch_results b WHERE b.run_id = r.id)::int AS files_done
  FROM runs r
 WHERE %(run_id)s::uuid IS NULL OR r.id = %(run_id)s::uuid
 ORDER BY r.started_at DESC
 LIMIT %(limit)s
