-- The files one batch of a run carried, with their repository's root, in the batch's order.
SELECT r.root, f.repository_id, f.path, f.language
  FROM files f JOIN repositories r ON r.id = f.repository_id
 WHERE f.last_run_id = %(run_id)s AND f.batch_id = %(batch_id)s
 ORDER BY f.repository_id, f.path
