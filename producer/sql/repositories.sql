-- The repositories named %(roots)s (the targets taken in turn together), each created on first
-- sight, with the commit each was last indexed at and whether this statement created it (xmax 0:
-- inserted, so it has no files yet); in one order, so that producers do not deadlock.
INSERT INTO repositories (root) SELECT DISTINCT root FROM unnest(%(roots)s::text[]) AS given(root) ORDER BY root
ON CONFLICT (root) DO UPDATE SET root = EXCLUDED.root
RETURNING id, root, indexed_commit, xmax = 0 AS created
