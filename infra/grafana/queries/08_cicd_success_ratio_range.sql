-- cicd_success_ratio over the whole time range (stat; red below 0.85, green from 0.90). NULL without CI runs.
SELECT (count(*) FILTER (WHERE exit_code = 0))::double precision / nullif(count(*), 0) AS cicd_success_ratio,
       count(*) AS ci_runs
  FROM cli_runs
 WHERE ci AND time >= now() - interval '24 hours'
