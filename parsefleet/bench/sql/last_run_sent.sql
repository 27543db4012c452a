-- Files the latest run sent to the workers.
SELECT coalesce(sum(i.sent), 0)
  FROM run_inputs i
 WHERE i.run_id = (SELECT id FROM runs ORDER BY started_at DESC LIMIT 1)
