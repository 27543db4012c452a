-- Files of a repository's current view whose blob failed under its language's parser version for a
-- reason another try may change (known_blobs.sql does not count them as known: timeout, memory, and
-- crash when the run retries crashed files). An incremental run sends them again with its changes.
-- From the failed blobs (schema/016's partial index: few) to the repository's files holding them,
-- not from every file of the view (6,700 blob look-ups, 10 – 14 ms, on every run).
WITH failed AS MATERIALIZED (
    SELECT b.hash, v.language
      FROM unnest(%(languages)s::text[], %(versions)s::text[]) AS v (language, version)
      JOIN blobs b ON b.parser_version = v.version AND b.status = 'failed'
     WHERE b.failure_kind IN ('timeout', 'memory') OR (b.failure_kind = 'crash' AND %(retry_crashed)s)
)
SELECT f.path, f.blob_hash
  FROM failed
  JOIN files f ON f.blob_hash = failed.hash AND f.language = failed.language
 WHERE f.repository_id = %(repository_id)s
