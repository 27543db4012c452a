-- The blobs a run has read (its duplicates are recognised after a resume).
SELECT DISTINCT language, blob_hash FROM files WHERE last_run_id = %(run_id)s
