-- The repositories named %(roots)s (the targets taken in turn together), each created on first
-- sight, with the commit each was last indexed at and whether this statement created it (xmax 0:
-- inserted, so it has no files yet); in one order, so that producers do not deadlock. Where this
-- run reads each (%(locations)s, by position) is kept for the run (run_repositories): a batch
-- recorded from a repository read in part is rebuilt from there (producer/resume.py), while
-- `repositories.location` moves only with the indexed commit.
WITH taken AS (
    INSERT INTO repositories (root)
    SELECT DISTINCT root FROM unnest(%(roots)s::text[]) AS given(root) ORDER BY root
    ON CONFLICT (root) DO UPDATE SET root = EXCLUDED.root
    RETURNING id, root, indexed_commit, xmax = 0 AS created
), kept AS (
    INSERT INTO run_repositories (run_id, repository_id, location)
    SELECT DISTINCT ON (t.id) %(run_id)s::uuid, t.id, given.location
      FROM taken t JOIN unnest(%(roots)s::text[], %(locations)s::text[]) AS given(root, location) ON given.root = t.root
     ORDER BY t.id
    ON CONFLICT (run_id, repository_id) DO UPDATE SET location = EXCLUDED.location
)
SELECT id, root, indexed_commit, created FROM taken
