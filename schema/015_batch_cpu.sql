-- The CPU time of each batch's outline (the pool child's thread), beside its wall time
-- (duration_ms): a wall time above the CPU time is time spent waiting for a core, so the bench
-- can tell a slower parse from a busier host. Null for batches committed before this migration
-- and for splits and crash records.
ALTER TABLE batch_results ADD COLUMN IF NOT EXISTS cpu_ms double precision;
