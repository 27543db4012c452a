-- Cancelled runs (`parsefleet cancel`, or `parsefleet run` interrupted): when the run was cancelled,
-- and per batch result how many of its files were withdrawn from the queues instead of parsed.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS cancelled_at timestamptz;
ALTER TABLE batch_results ADD COLUMN IF NOT EXISTS cancelled integer NOT NULL DEFAULT 0;
