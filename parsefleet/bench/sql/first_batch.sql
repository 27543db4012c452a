-- The first batch a run committed: its latency, and when it was committed.
SELECT m.duration_ms, extract(epoch FROM (r.finished_at - %(started_at)s::timestamptz)) AS after_s
  FROM batch_metrics m JOIN batch_results r ON r.batch_id = m.batch_id
 WHERE m.run_id = %(run_id)s
 ORDER BY r.finished_at
 LIMIT 1
