-- Blobs already outlined by this parser version. Failures that may pass on another try
-- (timeout, memory, crash) do not count as known.
SELECT hash
  FROM blobs
 WHERE parser_version = %(parser_version)s
   AND hash = ANY(%(hashes)s)
   AND (status <> 'failed' OR failure_kind NOT IN ('timeout', 'memory', 'crash'))
