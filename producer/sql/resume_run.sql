-- A run as its producer left it: targets (and how those looked at up front are read), the
-- position to go on from, how far its ledger got.
SELECT targets, coalesce(target_origins, '{}'::text[]), coalesce(target_plans, '[]'::jsonb), resume_offsets,
       batch_sequence, producer_step, ci, submitted_at IS NOT NULL, cancelled_at IS NOT NULL,
       (SELECT count(*) FROM batches b WHERE b.run_id = r.id)::int,
       (SELECT coalesce(array_agg(t.ordinal), '{}'::int[]) FROM run_targets t WHERE t.run_id = r.id)
  FROM runs r
 WHERE id = %(run_id)s
