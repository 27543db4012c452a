-- A repository's current view: path and blob of each file.
SELECT f.path, f.blob_hash
  FROM files f
  JOIN repositories r ON r.id = f.repository_id
 WHERE r.root = %(root)s
