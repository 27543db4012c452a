-- The blobs a run has read (its duplicates are recognised after a resume): its files, and the
-- versions it held (history mode: a path's earlier versions are no longer in `files`).
SELECT language, blob_hash FROM files WHERE last_run_id = %(run_id)s
UNION
SELECT language, blob_hash FROM run_held WHERE run_id = %(run_id)s
