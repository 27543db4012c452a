-- cicd_success_ratio: the share of CI-driven run/submit commands of the last 24 hours that exited 0.
SELECT avg(CASE WHEN exit_code = 0 THEN 1.0 ELSE 0.0 END)
  FROM cli_runs
 WHERE ci AND command IN ('run', 'submit') AND time >= now() - interval '24 hours'
