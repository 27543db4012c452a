-- Mark a run cancelled (once); a run that was never submitted (its producer stopped mid-way) is
-- submitted now with the batches it had recorded, so that it can finish once they all have a result.
UPDATE runs
   SET cancelled_at = coalesce(cancelled_at, now()),
       submitted_at = coalesce(submitted_at, now()),
       batches_total = coalesce(batches_total, (SELECT count(*) FROM batches WHERE run_id = %(run_id)s))
 WHERE id = %(run_id)s
RETURNING finished_at IS NOT NULL AS finished
