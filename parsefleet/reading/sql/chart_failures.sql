-- Parser failures (parser_failure_total's rows: worker side, batch_id set) per language and time
-- bucket, from parse_failures. {bucket} as in chart_latency.sql.
SELECT {bucket} AS bucket, language, count(*)::double precision AS value, count(*) AS samples
  FROM parse_failures
 WHERE batch_id IS NOT NULL AND time >= %(since)s
 GROUP BY 1, 2
 ORDER BY 1, 2
