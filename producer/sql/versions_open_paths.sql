-- The files among %(paths)s of a repository without an open version, opened at commit row %(seq)s
-- (versions_open.sql for all of them). Both sides are narrowed to %(paths)s, so the plan stays a
-- few index probes however stale the tables' statistics are (a repository indexed in full just
-- before: a nested loop over every open version for each path, 26 ms for 100 paths of 6,700).
INSERT INTO file_versions (repository_id, path, blob_hash, language, from_seq)
SELECT f.repository_id, f.path, f.blob_hash, f.language, %(seq)s
  FROM files f
 WHERE f.repository_id = %(repository_id)s
   AND f.path = ANY(%(paths)s)
   AND f.path NOT IN (SELECT v.path FROM file_versions v
                       WHERE v.repository_id = %(repository_id)s AND v.to_seq IS NULL AND v.path = ANY(%(paths)s))
