-- Poison batches (workers/poison.py): a batch whose worker keeps dying is replaced by its halves.
-- Its result row then holds no files and says into how many batches it was split; a run is
-- finished when count(batch_results) - sum(split_into) reaches batches_total (common/sql/finish_run.sql).
ALTER TABLE batch_results ADD COLUMN IF NOT EXISTS split_into integer NOT NULL DEFAULT 0;
