-- The failed blobs of each parser version, for the files an incremental run sends again
-- (producer/sql/retry_blobs.sql): a few rows, found without reading a repository's whole view.
CREATE INDEX IF NOT EXISTS blobs_failed_idx ON blobs (parser_version, hash) WHERE status = 'failed';
