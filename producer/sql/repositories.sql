-- The ids of a window's repositories (%(roots)s), each created on first sight.
INSERT INTO repositories (root) SELECT DISTINCT unnest(%(roots)s::text[])
ON CONFLICT (root) DO UPDATE SET root = EXCLUDED.root
RETURNING id, root
