-- The files of one repository a run has recorded so far (a resumed run's current view).
SELECT path, blob_hash FROM files WHERE repository_id = %(repository_id)s AND last_run_id = %(run_id)s
