-- A poison batch is replaced by its halves: its result row records the split (no files of its own;
-- they are counted in the halves' rows), claimed like a parse (claim_batch.sql). Returns the row's
-- split_into: the new value, an earlier split's, or 0 when the batch had been parsed and stored.
INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed, symbols,
                           duration_ms, worker, split_into)
VALUES (%(batch_id)s, %(run_id)s, %(language)s, 0, 0, 0, 0, 0, 0, 0, %(worker)s, %(parts)s)
ON CONFLICT (batch_id) DO UPDATE SET deliveries = batch_results.deliveries + 1
RETURNING split_into
