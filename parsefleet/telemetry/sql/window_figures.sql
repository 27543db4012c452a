-- p95 and sample count of the Step 1 ledger over [since, until]: every batch (batch_results; a
-- split batch's row holds no files and no duration) and every recorded CLI command (cli_runs),
-- whatever the telemetry flag. The ramp's and the variance report's figures come from here alike.
WITH batches AS (
    SELECT duration_ms FROM batch_results
     WHERE finished_at >= %(since)s AND finished_at <= %(until)s AND files > 0
), commands AS (
    SELECT duration_ms FROM cli_runs WHERE time >= %(since)s AND time <= %(until)s
)
SELECT (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FROM batches) AS batch_p95_ms,
       (SELECT count(*) FROM batches) AS batch_samples,
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FROM commands) AS cli_p95_ms,
       (SELECT count(*) FROM commands) AS cli_samples
