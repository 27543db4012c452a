-- The baseline of the latest ramp that measured one before %(before)s.
SELECT batch_p95_ms, batch_samples, cli_p95_ms, cli_samples
  FROM telemetry_decisions
 WHERE action = 'baseline' AND time <= %(before)s
 ORDER BY time DESC
 LIMIT 1
