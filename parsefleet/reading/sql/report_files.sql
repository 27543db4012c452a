-- The files of a run whose outline is partial (tree-sitter found syntax errors), a fallback (the
-- reference parser's outline) or failed, with their repository; %(statuses)s chooses which. A file
-- the run skipped as unchanged shows the outcome its blob had when it was parsed.
SELECT f.language, b.status, coalesce(b.failure_kind, '') AS kind, r.root AS repository, f.path
  FROM files f
  JOIN repositories r ON r.id = f.repository_id
  JOIN blobs b ON b.hash = f.blob_hash AND b.parser_version = ANY(%(parser_versions)s)
 WHERE f.last_run_id = %(run_id)s AND b.status = ANY(%(statuses)s)
 ORDER BY f.language, b.status, r.root, f.path
