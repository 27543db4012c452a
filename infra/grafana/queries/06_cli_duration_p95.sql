-- cli_cmd_duration_ms: p95 duration of each parsefleet command, per hour.
SELECT date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       command AS metric,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
  FROM cli_runs
 WHERE time >= now() - interval '24 hours'
 GROUP BY 1, 2
 ORDER BY 1, 2
