-- The first batch a run committed: its latency, and when it was committed.
SELECT duration_ms, extract(epoch FROM (finished_at - %(started_at)s::timestamptz)) AS after_s
  FROM batch_results
 WHERE run_id = %(run_id)s AND files > 0
 ORDER BY finished_at
 LIMIT 1
