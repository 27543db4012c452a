CREATE TEMP TABLE IF NOT EXISTS files_stage (
    repository_id bigint, path text, blob_hash bytea, language text, last_run_id uuid, batch_id text,
    size_bytes bigint
) ON COMMIT DELETE ROWS
