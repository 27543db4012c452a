-- One file of a repository's current tree and the latest outline of its blob (a failed parse has
-- no outline: its status says so).
SELECT f.language, f.blob_hash, b.parser_version, b.status, b.failure_kind, b.error_count, b.parsed_at
  FROM files f
  LEFT JOIN blobs b ON b.hash = f.blob_hash
 WHERE f.repository_id = %(repository_id)s AND f.path = %(path)s
 ORDER BY (b.status <> 'failed') DESC NULLS LAST, b.parsed_at DESC NULLS LAST
 LIMIT 1
