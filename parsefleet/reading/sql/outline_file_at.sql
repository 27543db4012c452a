-- One file of a repository's tree at an indexed commit still kept (%(commit_like)s: the commit's
-- id or a prefix of it, hexadecimal, followed by %%), and the latest outline of its blob; the newest
-- matching commit when a prefix names several.
SELECT v.language, v.blob_hash, b.parser_version, b.status, b.failure_kind, b.error_count, b.parsed_at
  FROM repository_commits c
  JOIN file_versions v
    ON v.repository_id = c.repository_id AND v.path = %(path)s
   AND v.from_seq <= c.seq AND (v.to_seq IS NULL OR v.to_seq > c.seq)
  LEFT JOIN blobs b ON b.hash = v.blob_hash
 WHERE c.repository_id = %(repository_id)s AND c.kept AND c.commit_id LIKE %(commit_like)s
 ORDER BY c.seq DESC, (b.status <> 'failed') DESC NULLS LAST, b.parsed_at DESC NULLS LAST
 LIMIT 1
