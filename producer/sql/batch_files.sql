-- The files one batch of a run carried, with where their repository is read (where this run reads
-- it, else its location, else its name: a path), their blob ids, and whether each is a held
-- version: the held versions it carried (history mode: every version, a file's in commit order),
-- else the files whose last run it carried.
SELECT coalesce(k.location, r.location, r.root), carried.repository_id, carried.path, carried.language,
       carried.blob_hash, carried.held
  FROM (SELECT h.repository_id, h.path, h.language, h.blob_hash, h.ordinal AS position, true AS held
          FROM run_held h
         WHERE h.run_id = %(run_id)s AND h.batch_id = %(batch_id)s AND NOT h.refused
        UNION ALL
        SELECT f.repository_id, f.path, f.language, f.blob_hash, 0, false
          FROM files f
         WHERE f.last_run_id = %(run_id)s AND f.batch_id = %(batch_id)s
           AND NOT EXISTS (SELECT 1 FROM run_held h WHERE h.run_id = %(run_id)s AND h.batch_id = %(batch_id)s)
       ) AS carried
  JOIN repositories r ON r.id = carried.repository_id
  LEFT JOIN run_repositories k ON k.run_id = %(run_id)s AND k.repository_id = carried.repository_id
 ORDER BY carried.repository_id, carried.path, carried.position
