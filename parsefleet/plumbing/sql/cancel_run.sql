-- Mark a run cancelled, unless it has finished (then nothing changes); a run that was never
-- submitted (its producer stopped mid-way) is submitted now with the batches it had recorded, so
-- that it can finish once they all have a result.
UPDATE runs
   SET cancelled_at = CASE WHEN finished_at IS NULL THEN coalesce(cancelled_at, now()) ELSE cancelled_at END,
       submitted_at = coalesce(submitted_at, now()),
       batches_total = coalesce(batches_total, (SELECT count(*) FROM batches WHERE run_id = %(run_id)s))
 WHERE id = %(run_id)s
RETURNING finished_at IS NOT NULL AS finished, cancelled_at IS NOT NULL AND finished_at IS NOT NULL AS was_cancelled
