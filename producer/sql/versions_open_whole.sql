-- The files of a repository without an open version, opened at commit row %(seq)s: afterwards the
-- open versions are the rows of `files` (versions_open_paths.sql when only some paths may have
-- changed).
INSERT INTO file_versions (repository_id, path, blob_hash, language, from_seq)
SELECT f.repository_id, f.path, f.blob_hash, f.language, %(seq)s
  FROM files f
 WHERE f.repository_id = %(repository_id)s
   AND NOT EXISTS (SELECT 1 FROM file_versions v
                    WHERE v.repository_id = f.repository_id AND v.path = f.path AND v.to_seq IS NULL)
