-- Step 2 figures stored per UTC hour and metric in [since, until]: batch_metrics rows
-- (parser_duration_ms), the failures of those batches (parser_failure_total: same batch, same time),
-- and the CLI commands sampled into Step 2 (cli_cmd_duration_ms).
SELECT date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour, 'parser_duration_ms' AS metric,
       count(*) AS stored
  FROM batch_metrics
 WHERE time >= %(since)s AND time <= %(until)s
 GROUP BY 1
UNION ALL
SELECT date_bin('1 hour', f.time, TIMESTAMPTZ '2000-01-01 00:00:00+00'), 'parser_failure_total', count(*)
  FROM parse_failures f
  JOIN batch_metrics m ON m.batch_id = f.batch_id AND m.time = f.time
 WHERE f.time >= %(since)s AND f.time <= %(until)s AND m.time >= %(since)s AND m.time <= %(until)s
 GROUP BY 1
UNION ALL
SELECT date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00'), 'cli_cmd_duration_ms', count(*)
  FROM cli_runs
 WHERE step2 AND time >= %(since)s AND time <= %(until)s
 GROUP BY 1
