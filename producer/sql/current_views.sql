-- The current views of the repositories %(repository_ids)s: their files as the last run left them.
SELECT repository_id, path, blob_hash FROM files WHERE repository_id = ANY(%(repository_ids)s)
