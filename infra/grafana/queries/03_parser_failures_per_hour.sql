-- Parser failures per hour by language and kind: the rows behind parser_failure_total (worker side,
-- batch_id set; files refused by the producer are in the failed-files table). Alert: 3 or more per hour.
SELECT date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       language || '/' || kind AS metric,
       count(*) AS failures
  FROM parse_failures
 WHERE batch_id IS NOT NULL AND time >= now() - interval '24 hours'
 GROUP BY 1, 2
 ORDER BY 1, 2
