-- A repository's current view: its files as the last run left them.
SELECT path, blob_hash FROM files WHERE repository_id = %(repository_id)s
