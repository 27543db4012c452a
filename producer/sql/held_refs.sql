-- The versions a run's producer holds without a batch (history mode), in the order read.
SELECT repository_id, path, blob_hash, language, size_bytes
  FROM run_held
 WHERE run_id = %(run_id)s AND batch_id IS NULL AND NOT refused
 ORDER BY ordinal
