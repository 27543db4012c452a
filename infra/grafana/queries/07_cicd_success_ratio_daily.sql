-- cicd_success_ratio per day: share of CI-driven CLI runs (ci = true) that exited 0. Alert below 0.85.
SELECT date_bin('1 day', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       (count(*) FILTER (WHERE exit_code = 0))::double precision / count(*) AS cicd_success_ratio,
       count(*) AS ci_runs
  FROM cli_runs
 WHERE ci AND time >= now() - interval '24 hours'
 GROUP BY 1
 ORDER BY 1
