-- The versions a run's producer held and had not batched when it stopped (history mode), in the
-- order read, with where their repository is read (see batch_files.sql).
SELECT coalesce(k.location, r.location, r.root), h.repository_id, h.path, h.language, h.blob_hash, true
  FROM run_held h
  JOIN repositories r ON r.id = h.repository_id
  LEFT JOIN run_repositories k ON k.run_id = h.run_id AND k.repository_id = h.repository_id
 WHERE h.run_id = %(run_id)s AND h.batch_id IS NULL AND NOT h.refused
 ORDER BY h.ordinal
