INSERT INTO files (repository_id, path, blob_hash, language, last_run_id, batch_id, size_bytes)
SELECT DISTINCT ON (repository_id, path) repository_id, path, blob_hash, language, last_run_id, batch_id, size_bytes
  FROM files_stage
ON CONFLICT (repository_id, path) DO UPDATE
   SET blob_hash = EXCLUDED.blob_hash, language = EXCLUDED.language, last_run_id = EXCLUDED.last_run_id,
       batch_id = EXCLUDED.batch_id, size_bytes = EXCLUDED.size_bytes
