-- A batch's staged rows (staging_tables.sql) of the blobs its claim took (``fresh``), moved into
-- symbols and imports within the batch's transaction (one statement: the symbols' insert runs as a
-- data-modifying CTE); the rest is emptied by its commit.
WITH symbols_moved AS (
    INSERT INTO symbols SELECT * FROM pg_temp.staged_symbols WHERE blob_hash = ANY(%(fresh)s::bytea[])
)
INSERT INTO imports SELECT * FROM pg_temp.staged_imports WHERE blob_hash = ANY(%(fresh)s::bytea[])
