-- Held versions let go (history mode: a resumed run that can no longer read them refuses them),
-- from held_stage's rows without a batch.
DELETE FROM run_held h USING held_stage s
 WHERE h.run_id = %(run_id)s AND s.batch_id IS NULL AND h.language = s.language AND h.blob_hash = s.blob_hash
