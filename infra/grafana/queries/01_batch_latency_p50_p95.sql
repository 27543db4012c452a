-- Batch latency (parser_duration_ms) per language: p50 and p95 per minute. Alert threshold: p95 > 210 ms.
-- From batch_results: every batch, whatever the telemetry flag (a split batch's row holds no files).
SELECT date_bin('1 minute', finished_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       language AS metric,
       percentile_cont(0.50) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
  FROM batch_results
 WHERE files > 0 AND finished_at >= now() - interval '24 hours'
 GROUP BY 1, 2
 ORDER BY 1, 2
