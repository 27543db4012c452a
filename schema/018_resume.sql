-- What a resumed producer needs beyond the windows it recorded (producer/resume.py).

-- History mode: the file versions a run's producer has read and holds to batch together once the
-- history's last commit is recorded (producer/submission.py), written in the transaction of the
-- window that read them, so that a producer killed while it holds them is resumed with them.
-- ``batch_id`` is set when they are batched (NULL: still held); a batch recorded and never sent is
-- rebuilt from these rows, one per version, where `files` holds only a path's last. Each version is
-- the run's first meeting of its blob, so (run, language, blob) is one row. Kept until the run is
-- submitted.
CREATE TABLE IF NOT EXISTS run_held (
    run_id         uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ordinal        bigserial,                     -- the order read: a path's versions in commit order
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path           text NOT NULL,
    blob_hash      bytea NOT NULL,
    language       text NOT NULL,
    size_bytes     bigint NOT NULL,
    batch_id       text,
    refused        boolean NOT NULL DEFAULT false,  -- a resumed run could no longer read it
    PRIMARY KEY (run_id, language, blob_hash)
);
CREATE INDEX IF NOT EXISTS run_held_batch_idx ON run_held (run_id, batch_id);

-- Where a run reads each repository it has taken in (a bare mirror's path, a work tree), so that a
-- batch recorded from a repository read in part is rebuilt from there; `repositories.location`
-- moves only with the indexed commit. Kept until the run is submitted.
CREATE TABLE IF NOT EXISTS run_repositories (
    run_id         uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    location       text NOT NULL,
    PRIMARY KEY (run_id, repository_id)
);

-- How each target of a run looked at up front (--rev, --name, --history, --since; reindex) is read,
-- by position in ``targets`` (producer/snapshot.py ``Plan``): its repository name, commit, the
-- commits of its history after it. A resumed producer reads the targets left exactly so. NULL for
-- a streamed run (each target from its HEAD, or its files as they are).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS target_plans jsonb;
