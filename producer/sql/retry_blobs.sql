-- Files of a repository's current view whose blob failed under its language's parser version for a
-- reason another try may change (known_blobs.sql does not count them as known: timeout, memory, and
-- crash when the run retries crashed files). An incremental run sends them again with its changes.
SELECT f.path, f.blob_hash
  FROM files f
  JOIN unnest(%(languages)s::text[], %(versions)s::text[]) AS v (language, version) ON v.language = f.language
  JOIN blobs b ON b.hash = f.blob_hash AND b.parser_version = v.version
 WHERE f.repository_id = %(repository_id)s AND b.status = 'failed'
   AND (b.failure_kind IN ('timeout', 'memory') OR (b.failure_kind = 'crash' AND %(retry_crashed)s))
