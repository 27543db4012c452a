-- parser_duration_ms p95 per language and time bucket, from the ledger (batch_results: every batch,
-- whatever the telemetry flag; batch_metrics holds the same figure for the flag's sampled share
-- only). A split batch's row holds no files and is left out. {bucket} is the bucket of
-- finished_at: time_bucket on TimescaleDB, date_trunc otherwise (sql/bucket_*.sql).
SELECT {bucket} AS bucket, language,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS value,
       count(*) AS samples
  FROM batch_results
 WHERE files > 0 AND finished_at >= %(since)s
 GROUP BY 1, 2
 ORDER BY 1, 2
