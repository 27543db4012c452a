-- Every failed file, newest first: worker failures and producer refusals (batch_id empty).
SELECT time,
       language,
       kind,
       coalesce((SELECT root FROM repositories r WHERE r.id = parse_failures.repository_id) || '/', '') || path AS path,
       message,
       batch_id IS NULL AS refused_by_producer
  FROM parse_failures
 WHERE time >= now() - interval '24 hours'
 ORDER BY time DESC
 LIMIT 500
