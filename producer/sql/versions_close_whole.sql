-- The open versions of the files of each repository of %(repository_ids)s that `files` no longer
-- holds, closed at the commit row beside it (versions_close.sql for some paths of one repository).
UPDATE file_versions v SET to_seq = g.seq
  FROM unnest(%(repository_ids)s::bigint[], %(seqs)s::bigint[]) AS g(repository_id, seq)
 WHERE v.repository_id = g.repository_id AND v.to_seq IS NULL
   AND NOT EXISTS (SELECT 1 FROM files f
                    WHERE f.repository_id = v.repository_id AND f.path = v.path AND f.blob_hash = v.blob_hash)
