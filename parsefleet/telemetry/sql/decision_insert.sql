INSERT INTO telemetry_decisions (time, ramp_id, action, pct_from, pct_to, batch_p95_ms, batch_baseline_p95_ms,
                                 batch_samples, cli_p95_ms, cli_baseline_p95_ms, cli_samples, detail)
VALUES (%(time)s, %(ramp_id)s, %(action)s, %(pct_from)s, %(pct_to)s, %(batch_p95_ms)s, %(batch_baseline_p95_ms)s,
        %(batch_samples)s, %(cli_p95_ms)s, %(cli_baseline_p95_ms)s, %(cli_samples)s, %(detail)s)
