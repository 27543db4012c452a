-- The open versions of a repository's files (among %(paths)s; NULL: all) that `files` no longer
-- holds, closed at commit row %(seq)s.
UPDATE file_versions v SET to_seq = %(seq)s
 WHERE v.repository_id = %(repository_id)s AND v.to_seq IS NULL
   AND (%(paths)s::text[] IS NULL OR v.path = ANY(%(paths)s))
   AND NOT EXISTS (SELECT 1 FROM files f
                    WHERE f.repository_id = v.repository_id AND f.path = v.path AND f.blob_hash = v.blob_hash)
