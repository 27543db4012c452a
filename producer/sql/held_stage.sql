CREATE TEMP TABLE IF NOT EXISTS held_stage (
    repository_id bigint, path text, language text, blob_hash bytea, batch_id text
) ON COMMIT DELETE ROWS
