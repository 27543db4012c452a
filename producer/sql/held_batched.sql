-- The held versions now batched (history mode), from held_stage: each with the batch carrying it.
UPDATE run_held h SET batch_id = s.batch_id
  FROM held_stage s
 WHERE h.run_id = %(run_id)s AND s.batch_id IS NOT NULL AND h.language = s.language AND h.blob_hash = s.blob_hash
