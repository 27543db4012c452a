-- Per language figures of one benchmark run, from what the workers committed.
SELECT m.language,
       count(*) AS batches,
       sum(m.files) AS files,
       sum(m.size_bytes) AS size_bytes,
       extract(epoch FROM (max(r.finished_at) - %(started_at)s::timestamptz)) AS elapsed_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY m.duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY m.duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY m.duration_ms) AS p99_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY m.queue_wait_ms) AS queue_wait_p95_ms,
       sum(r.partial) AS partial, sum(r.fallback) AS fallback, sum(r.failed) AS failed
  FROM batch_metrics m
  JOIN batch_results r ON r.batch_id = m.batch_id
 WHERE m.run_id = %(run_id)s
 GROUP BY m.language
 ORDER BY m.language
