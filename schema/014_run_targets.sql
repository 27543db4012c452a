-- The targets of a run, in the order given (arguments, then `--from` lines), one row each, written
-- by the producer in the transaction of the window that finished with the target
-- (producer/records.py): a target without a row is pending. ``error`` names why a target was not
-- submitted (a bad `--from` line, a listing that failed); ``files`` counts what its listing found.
CREATE TABLE IF NOT EXISTS run_targets (
    run_id         uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ordinal        integer NOT NULL,              -- 1, 2, ... in the order given
    target         text NOT NULL,                 -- the path as given
    origin         text NOT NULL,                 -- where it was given: "argument 2", "repos.txt:14"
    repository_id  bigint REFERENCES repositories (id) ON DELETE SET NULL,
    files          integer NOT NULL DEFAULT 0,    -- files with a supported extension listed
    error          text,                          -- NULL: listed and read; else why it failed
    read_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, ordinal)
);

-- Where the producer of a run is (producer/resume.py), written with each window: per target read in
-- part (ordinal, as a JSON key), the files of its listing read; the last batch sequence number
-- used. Targets with a run_targets row are done, the others start from their first file. A
-- producer killed at any point is resumed from there (`parsefleet submit --resume RUN_ID`).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS target_origins text[];
ALTER TABLE runs ADD COLUMN IF NOT EXISTS resume_offsets jsonb NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN IF NOT EXISTS batch_sequence integer NOT NULL DEFAULT 0;
-- The batch that carried a file in its last run (NULL: skipped or refused): a batch recorded but
-- not yet on Redis when its producer died is rebuilt from its files.
ALTER TABLE files ADD COLUMN IF NOT EXISTS batch_id text;
