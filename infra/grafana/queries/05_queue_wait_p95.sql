-- p95 queue wait (enqueue to start of work) per language per minute: a growing wait means too few workers.
SELECT date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       language AS metric,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY queue_wait_ms) AS p95_wait_ms
  FROM batch_metrics
 WHERE queue_wait_ms IS NOT NULL AND time >= now() - interval '24 hours'
 GROUP BY 1, 2
 ORDER BY 1, 2
