-- The files of each repository of %(repository_ids)s without an open version, opened at the commit
-- row beside it: afterwards its open versions are its rows of `files` (versions_open_paths.sql when
-- only some paths of one repository may have changed).
INSERT INTO file_versions (repository_id, path, blob_hash, language, from_seq)
SELECT f.repository_id, f.path, f.blob_hash, f.language, g.seq
  FROM unnest(%(repository_ids)s::bigint[], %(seqs)s::bigint[]) AS g(repository_id, seq)
  JOIN files f ON f.repository_id = g.repository_id
 WHERE NOT EXISTS (SELECT 1 FROM file_versions v
                    WHERE v.repository_id = f.repository_id AND v.path = f.path AND v.to_seq IS NULL)
