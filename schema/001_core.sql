-- What parsefleet keeps: repositories, runs, files, blobs and their outlines. Plain tables.

CREATE TABLE IF NOT EXISTS repositories (
    id          bigserial PRIMARY KEY,
    root        text NOT NULL UNIQUE,          -- absolute path (or name) of the repository root
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS runs (
    id              uuid PRIMARY KEY,
    targets         text[] NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    submitted_at    timestamptz,               -- set when the producer has enqueued every batch
    finished_at     timestamptz,               -- set when every batch has a result
    batches_total   integer,                   -- known once submitted_at is set
    ci              boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS runs_started_at_idx ON runs (started_at DESC);

-- What the producer saw, per run and language: files seen and files sent in batches.
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    language    text NOT NULL,
    seen        integer NOT NULL,
    sent        integer NOT NULL,
    PRIMARY KEY (run_id, language)
);

-- Files the producer skipped, counted by reason (unchanged, duplicate, vendored, generated, ...).
CREATE TABLE IF NOT EXISTS run_skips (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    language    text NOT NULL,
    reason      text NOT NULL,
    files       integer NOT NULL,
    PRIMARY KEY (run_id, language, reason)
);

CREATE TABLE IF NOT EXISTS batches (
    id           text PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    language     text NOT NULL,
    files        integer NOT NULL,
    size_bytes   bigint NOT NULL,
    enqueued_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_run_idx ON batches (run_id);

-- One row per batch, written in the same transaction as its outlines: the idempotency key.
CREATE TABLE IF NOT EXISTS batch_results (
    batch_id     text PRIMARY KEY,
    run_id       uuid NOT NULL,
    language     text NOT NULL,
    files        integer NOT NULL,
    parsed       integer NOT NULL,             -- includes partial and fallback
    partial      integer NOT NULL,
    fallback     integer NOT NULL,
    failed       integer NOT NULL,
    symbols      integer NOT NULL,
    duration_ms  double precision NOT NULL,
    worker       text NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS batch_results_run_idx ON batch_results (run_id);

CREATE TABLE IF NOT EXISTS files (
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path           text NOT NULL,
    blob_hash      bytea NOT NULL,
    language       text NOT NULL,
    last_run_id    uuid NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX IF NOT EXISTS files_blob_idx ON files (blob_hash);

CREATE TABLE IF NOT EXISTS blobs (
    hash               bytea NOT NULL,
    parser_version     text NOT NULL,
    language           text NOT NULL,
    status             text NOT NULL,         -- parsed | partial | fallback | failed
    failure_kind       text,
    error_count        integer NOT NULL DEFAULT 0,
    unexpanded_macros  integer NOT NULL DEFAULT 0,
    size_bytes         bigint NOT NULL,
    symbol_count       integer NOT NULL,
    parsed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hash, parser_version)
);

CREATE TABLE IF NOT EXISTS symbols (
    blob_hash       bytea NOT NULL,
    parser_version  text NOT NULL,
    ordinal         integer NOT NULL,
    kind            text NOT NULL,
    name            text NOT NULL,
    qualified_name  text NOT NULL,
    parent_ordinal  integer,
    start_line      integer NOT NULL,
    end_line        integer NOT NULL,
    start_byte      integer NOT NULL,
    end_byte        integer NOT NULL,
    visibility      text NOT NULL,
    from_macro      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (blob_hash, parser_version, ordinal)
);
CREATE INDEX IF NOT EXISTS symbols_qualified_name_idx ON symbols (qualified_name);

CREATE TABLE IF NOT EXISTS imports (
    blob_hash       bytea NOT NULL,
    parser_version  text NOT NULL,
    ordinal         integer NOT NULL,
    module          text NOT NULL,
    name            text,
    alias           text,
    origin          text NOT NULL,             -- stdlib | third_party | local
    line            integer NOT NULL,
    PRIMARY KEY (blob_hash, parser_version, ordinal)
);
