-- What parsefleet measures over time. Plain tables with a time index here;
-- 003 turns them into hypertables when TimescaleDB is available.

CREATE TABLE IF NOT EXISTS batch_metrics (
    time           timestamptz NOT NULL,
    run_id         uuid NOT NULL,
    batch_id       text NOT NULL,
    language       text NOT NULL,
    worker         text NOT NULL,
    files          integer NOT NULL,
    size_bytes     bigint NOT NULL,
    duration_ms    double precision NOT NULL,   -- parser_duration_ms: decode, parse, outline
    queue_wait_ms  double precision              -- enqueue to start of work
);
CREATE INDEX IF NOT EXISTS batch_metrics_time_idx ON batch_metrics (time DESC);
CREATE INDEX IF NOT EXISTS batch_metrics_run_idx ON batch_metrics (run_id, time DESC);

CREATE TABLE IF NOT EXISTS parse_failures (
    time           timestamptz NOT NULL,
    run_id         uuid NOT NULL,
    batch_id       text,                         -- null when the producer refused the file
    repository_id  bigint NOT NULL,
    path           text NOT NULL,
    blob_hash      bytea,
    language       text NOT NULL,
    kind           text NOT NULL,                -- parser_failure_total's kind tag
    message        text NOT NULL
);
CREATE INDEX IF NOT EXISTS parse_failures_time_idx ON parse_failures (time DESC);
CREATE INDEX IF NOT EXISTS parse_failures_run_idx ON parse_failures (run_id, time DESC);

CREATE TABLE IF NOT EXISTS cli_runs (
    time         timestamptz NOT NULL,
    command      text NOT NULL,
    duration_ms  double precision NOT NULL,      -- cli_cmd_duration_ms
    exit_code    integer NOT NULL,
    ci           boolean NOT NULL,
    run_id       uuid
);
CREATE INDEX IF NOT EXISTS cli_runs_time_idx ON cli_runs (time DESC);
