-- A run a user can follow by bytes: the size of each file as its last run read it (0 for a file
-- whose blob was known and left unread; NULL before this column), so that `parsefleet report
-- --repositories` gives each repository's bytes sent and done.
ALTER TABLE files ADD COLUMN IF NOT EXISTS size_bytes bigint;
-- Targets that failed in earlier runs, looked up when a run starts (they are read last).
CREATE INDEX IF NOT EXISTS run_targets_failed_idx ON run_targets (target) WHERE error IS NOT NULL;
