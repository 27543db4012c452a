-- Blobs this parser version has already dealt with, and whether it was a crash. Failures that may
-- pass on another try (timeout, memory) do not count as known; a crash (the file killed its
-- worker, workers/poison.py) does, unless the run asks to try crashed files again.
SELECT hash, status = 'failed' AND failure_kind = 'crash' AS crashed
  FROM blobs
 WHERE parser_version = %(parser_version)s
   AND hash = ANY(%(hashes)s)
   AND (status <> 'failed'
        OR failure_kind NOT IN ('timeout', 'memory', 'crash')
        OR (failure_kind = 'crash' AND NOT %(retry_crashed)s))
