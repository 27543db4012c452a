-- The Step 2 telemetry rollout (flag telemetry.v2.parser_cli): the ramp's decisions, which CLI
-- commands emitted Step 2 figures, and a time index on the Step 1 ledger the ramp measures.

-- Every decision of `parsefleet telemetry ramp|rollback|revert` and `parsefleet flag set`.
CREATE TABLE IF NOT EXISTS telemetry_decisions (
    time                   timestamptz NOT NULL,
    ramp_id                uuid,                  -- null for one-off commands (rollback, revert, flag set)
    action                 text NOT NULL,         -- start | baseline | snapshot | advance | hold | breach
                                                  -- | rollback | done | abort | revert | set
    pct_from               integer,               -- flag before the decision
    pct_to                 integer,               -- flag after it
    batch_p95_ms           double precision,      -- p95 of batch_results.duration_ms in the window
    batch_baseline_p95_ms  double precision,
    batch_samples          integer,
    cli_p95_ms             double precision,      -- p95 of cli_runs.duration_ms in the window
    cli_baseline_p95_ms    double precision,
    cli_samples            integer,
    detail                 text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS telemetry_decisions_time_idx ON telemetry_decisions (time DESC);
CREATE INDEX IF NOT EXISTS telemetry_decisions_ramp_idx ON telemetry_decisions (ramp_id, time DESC);

-- True when the command was sampled into Step 2 (cli_cmd_duration_ms sent): what the
-- reconciliation compares with the emitted count.
ALTER TABLE cli_runs ADD COLUMN IF NOT EXISTS step2 boolean NOT NULL DEFAULT false;

-- The ramp, the alerts and the dashboards read batch latency from the ledger (every batch,
-- whatever the flag) by time.
CREATE INDEX IF NOT EXISTS batch_results_finished_at_idx ON batch_results (finished_at DESC);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('telemetry_decisions', 'time', chunk_time_interval => interval '30 days',
                                  if_not_exists => true, migrate_data => true);
    END IF;
END
$$;
