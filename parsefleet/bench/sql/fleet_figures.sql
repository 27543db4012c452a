-- Per language figures of one benchmark run, from what the workers committed: latency from the
-- ledger (every batch), queue wait from batch_metrics (Step 2: the flag's sampled share).
SELECT r.language,
       count(*) AS batches,
       sum(r.files) AS files,
       sum(b.size_bytes) AS size_bytes,
       sum(r.duration_ms) AS outline_ms,
       sum(r.cpu_ms) AS outline_cpu_ms,
       extract(epoch FROM (max(r.finished_at) - %(started_at)s::timestamptz)) AS elapsed_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY r.duration_ms) AS p99_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY m.queue_wait_ms) AS queue_wait_p95_ms,
       sum(r.partial) AS partial, sum(r.fallback) AS fallback, sum(r.failed) AS failed
  FROM batch_results r
  JOIN batches b ON b.id = r.batch_id
  LEFT JOIN batch_metrics m ON m.batch_id = r.batch_id
 WHERE r.run_id = %(run_id)s AND r.files > 0
 GROUP BY r.language
 ORDER BY r.language
