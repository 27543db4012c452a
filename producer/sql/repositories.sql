-- The repositories named %(roots)s (the targets taken in turn together), each created on first
-- sight, with the commit each was last indexed at and whether this statement created it (xmax 0:
-- inserted, so it has no files yet); in one order, so that producers do not deadlock. Each one's
-- location becomes where this run reads it (%(locations)s, by position): a batch recorded from a
-- repository read in part is rebuilt from there (producer/resume.py).
INSERT INTO repositories (root, location)
SELECT DISTINCT ON (root) root, location
  FROM unnest(%(roots)s::text[], %(locations)s::text[]) AS given(root, location)
 ORDER BY root
ON CONFLICT (root) DO UPDATE SET location = EXCLUDED.location
RETURNING id, root, indexed_commit, xmax = 0 AS created
