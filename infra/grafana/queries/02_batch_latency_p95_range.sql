-- p95 batch latency per language over the whole time range (stat; red above 210 ms). Every batch (batch_results).
SELECT language AS metric,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       count(*) AS batches
  FROM batch_results
 WHERE files > 0 AND finished_at >= now() - interval '24 hours'
 GROUP BY 1
 ORDER BY 1
