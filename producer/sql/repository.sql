INSERT INTO repositories (root) VALUES (%(root)s)
ON CONFLICT (root) DO UPDATE SET root = EXCLUDED.root
RETURNING id, indexed_commit
