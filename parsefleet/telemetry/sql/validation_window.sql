-- The validation figures of [since, until] besides the p95s: parser failures (worker side, the rows
-- behind parser_failure_total) in the worst hour and in all, counted in hour buckets from %(since)s;
-- cicd_success_ratio and the number of CI-driven run/submit commands.
WITH hourly AS (
    SELECT date_bin('1 hour', time, %(since)s::timestamptz) AS hour, count(*) AS failures
      FROM parse_failures
     WHERE batch_id IS NOT NULL AND time >= %(since)s AND time <= %(until)s
     GROUP BY 1
), ci AS (
    SELECT exit_code FROM cli_runs
     WHERE ci AND command IN ('run', 'submit') AND time >= %(since)s AND time <= %(until)s
)
SELECT (SELECT coalesce(max(failures), 0) FROM hourly) AS failures_worst_hour,
       (SELECT coalesce(sum(failures), 0) FROM hourly) AS failures_total,
       (SELECT avg(CASE WHEN exit_code = 0 THEN 1.0 ELSE 0.0 END) FROM ci) AS cicd_success_ratio,
       (SELECT count(*) FROM ci) AS ci_runs
