-- Files counted as sent that a resumed run could no longer read (refused ``unreadable``), from
-- held_stage's rows without a batch: a held version is no longer held nor rebuilt, a file no
-- longer carried by its batch; so a second resume does not refuse them again.
WITH held AS (
    UPDATE run_held h SET refused = true
      FROM held_stage s
     WHERE h.run_id = %(run_id)s AND s.batch_id IS NULL AND h.language = s.language AND h.blob_hash = s.blob_hash
)
UPDATE files f SET batch_id = NULL
  FROM held_stage s
 WHERE f.last_run_id = %(run_id)s AND s.batch_id IS NULL
   AND f.repository_id = s.repository_id AND f.path = s.path AND f.blob_hash = s.blob_hash
