-- The files one batch of a run carried, with where their repository is read (its location, else
-- its name: a path) and their blob ids.
SELECT coalesce(r.location, r.root), f.repository_id, f.path, f.language, f.blob_hash
  FROM files f JOIN repositories r ON r.id = f.repository_id
 WHERE f.last_run_id = %(run_id)s AND f.batch_id = %(batch_id)s
 ORDER BY f.repository_id, f.path
