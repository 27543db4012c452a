-- Every failed file of a run, with its kind (newest runs first when the same path failed twice).
SELECT f.language, f.kind, coalesce(r.root || '/', '') || f.path AS path, f.message
  FROM parse_failures f
  JOIN runs ON runs.id = f.run_id
  LEFT JOIN repositories r ON r.id = f.repository_id
 WHERE f.run_id = %(run_id)s AND f.time >= runs.started_at
 ORDER BY f.language, f.kind, path
