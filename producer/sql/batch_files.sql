-- The files one batch of a run carried, with where their repository is read (its location, else
-- its name: a path) and their blob ids: the held versions it carried (history mode: every version,
-- a file's in commit order), else the files whose last run it carried.
SELECT location, repository_id, path, language, blob_hash
  FROM (SELECT coalesce(r.location, r.root) AS location, h.repository_id, h.path, h.language, h.blob_hash,
               h.ordinal AS position
          FROM run_held h JOIN repositories r ON r.id = h.repository_id
         WHERE h.run_id = %(run_id)s AND h.batch_id = %(batch_id)s
        UNION ALL
        SELECT coalesce(r.location, r.root), f.repository_id, f.path, f.language, f.blob_hash, 0
          FROM files f JOIN repositories r ON r.id = f.repository_id
         WHERE f.last_run_id = %(run_id)s AND f.batch_id = %(batch_id)s
           AND NOT EXISTS (SELECT 1 FROM run_held h WHERE h.run_id = %(run_id)s AND h.batch_id = %(batch_id)s)
       ) AS carried
 ORDER BY repository_id, path, position
