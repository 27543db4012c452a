-- Files that left a repository's tree (deleted, renamed away, or no longer read).
DELETE FROM files WHERE repository_id = %(repository_id)s AND path = ANY(%(paths)s)
