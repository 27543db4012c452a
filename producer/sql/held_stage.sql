CREATE TEMP TABLE IF NOT EXISTS held_stage (language text, blob_hash bytea, batch_id text) ON COMMIT DELETE ROWS
