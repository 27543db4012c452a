-- The latest go-live (a ramp's advance to 100%), its ramp's baseline, and the first rollback or
-- revert after it (NULL when none).
WITH live AS (
    SELECT time, ramp_id FROM telemetry_decisions
     WHERE action = 'advance' AND pct_to = 100
     ORDER BY time DESC LIMIT 1
)
SELECT live.time,
       b.batch_p95_ms, b.batch_samples, b.cli_p95_ms, b.cli_samples,
       (SELECT min(d.time) FROM telemetry_decisions d
         WHERE d.action IN ('rollback', 'revert') AND d.time > live.time) AS undone_at
  FROM live
  LEFT JOIN LATERAL (
    SELECT batch_p95_ms, batch_samples, cli_p95_ms, cli_samples FROM telemetry_decisions
     WHERE ramp_id = live.ramp_id AND action = 'baseline'
     ORDER BY time DESC LIMIT 1
  ) b ON true
