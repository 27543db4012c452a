-- The three alert figures of shared/DESIGN.md over their windows (NULL when there is no data).
-- Batch latency from batch_results (every batch, Step 1): it holds whatever the telemetry flag.
SELECT
    (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
       FROM batch_results WHERE finished_at >= now() - interval '1 hour' AND files > 0) AS parser_duration_p95_ms,
    (SELECT count(*) FROM parse_failures WHERE time >= now() - interval '1 hour') AS parser_failures_last_hour,
    (SELECT avg(CASE WHEN exit_code = 0 THEN 1.0 ELSE 0.0 END)
       FROM cli_runs
      WHERE ci AND command IN ('run', 'submit') AND time >= now() - interval '24 hours') AS cicd_success_ratio
