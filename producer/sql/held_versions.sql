-- The versions a run's producer held and had not batched when it stopped (history mode), in the
-- order read, with where their repository is read.
SELECT coalesce(r.location, r.root), h.repository_id, h.path, h.language, h.blob_hash
  FROM run_held h JOIN repositories r ON r.id = h.repository_id
 WHERE h.run_id = %(run_id)s AND h.batch_id IS NULL
 ORDER BY h.ordinal
