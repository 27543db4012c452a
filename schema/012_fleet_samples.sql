-- The fleet over time (parsefleet.workers.heartbeat): every heartbeat period, one worker samples the
-- fleet and writes one row per language: batches and source bytes waiting, the oldest's age,
-- batches kept in the outbox (waiting or being parsed), workers alive and stalled, the pause, and
-- the advised worker count. The operations dashboard (infra/grafana/operations.json) reads it.
CREATE TABLE IF NOT EXISTS fleet_samples (
    time             timestamptz NOT NULL,
    language         text NOT NULL,
    waiting          integer NOT NULL,
    waiting_bytes    bigint NOT NULL,
    oldest_s         double precision,          -- age of the oldest waiting batch; null when none waits
    outstanding      integer NOT NULL,
    workers_alive    integer NOT NULL,
    workers_stalled  integer NOT NULL,
    paused           boolean NOT NULL,
    advised_workers  integer NOT NULL
);
CREATE INDEX IF NOT EXISTS fleet_samples_time_idx ON fleet_samples (time DESC);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('fleet_samples', 'time', chunk_time_interval => interval '1 day',
                                  if_not_exists => true, migrate_data => true);
    END IF;
END
$$;
