-- A repository's tree at the commit it was indexed at (docs/guide.md, "Nightly runs").
--
-- repositories.root is the repository's name: what `--name` gave, else a mirror's origin URL, else
-- the absolute path of the target (as before). `location` is where it was last read from,
-- `indexed_commit` the commit the current view holds (NULL: a directory read as it was, or a run
-- that did not finish sending: the next run lists the whole tree).
ALTER TABLE repositories ADD COLUMN IF NOT EXISTS location text;
ALTER TABLE repositories ADD COLUMN IF NOT EXISTS indexed_commit text;
ALTER TABLE repositories ADD COLUMN IF NOT EXISTS indexed_seq bigint;

-- One row per repository and run that indexed it: the commit (NULL for a directory read as it is),
-- how the run compared it with the store (incremental: git diff-tree from the indexed commit;
-- full: the whole tree against the current view; walk: the directory's files), what changed,
-- what was sent and what the store already knew. `kept` turns false when the commit passes out of
-- the retention (PARSEFLEET_KEPT_COMMITS): its files are then no longer readable by commit.
CREATE TABLE IF NOT EXISTS repository_commits (
    seq            bigserial PRIMARY KEY,
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    commit_id      text,
    run_id         uuid NOT NULL,
    mode           text NOT NULL,              -- incremental | full | walk
    note           text,
    added          integer NOT NULL,
    modified       integer NOT NULL,
    deleted        integer NOT NULL,
    renamed        integer NOT NULL,
    sent           integer NOT NULL,
    known          integer NOT NULL,
    kept           boolean NOT NULL DEFAULT true,
    indexed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS repository_commits_repository_idx ON repository_commits (repository_id, seq DESC);
CREATE INDEX IF NOT EXISTS repository_commits_run_idx ON repository_commits (run_id);

-- Every version of every file of a repository's current view, as intervals of repository_commits
-- seq: a version is in the tree of commit row c when from_seq <= c.seq and (to_seq IS NULL or
-- to_seq > c.seq). The open versions (to_seq IS NULL) are exactly the rows of `files`.
CREATE TABLE IF NOT EXISTS file_versions (
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path           text NOT NULL,
    blob_hash      bytea NOT NULL,
    language       text NOT NULL,
    from_seq       bigint NOT NULL,
    to_seq         bigint
);
CREATE UNIQUE INDEX IF NOT EXISTS file_versions_open_idx ON file_versions (repository_id, path) WHERE to_seq IS NULL;
CREATE INDEX IF NOT EXISTS file_versions_path_idx ON file_versions (repository_id, path, from_seq);
