-- Every definition of a repository's current tree, from the latest outline of each blob, with its
-- parent's kind and qualified name (the scope of a tags line).
SELECT f.path, f.language, s.kind, s.name, s.qualified_name, s.visibility, s.start_line, s.end_line,
       p.kind AS parent_kind, p.qualified_name AS parent
  FROM files f
  JOIN blobs b ON b.hash = f.blob_hash AND b.status <> 'failed'
  JOIN symbols s ON s.blob_hash = b.hash AND s.parser_version = b.parser_version
  LEFT JOIN symbols p
         ON p.blob_hash = s.blob_hash AND p.parser_version = s.parser_version AND p.ordinal = s.parent_ordinal
 WHERE f.repository_id = %(repository_id)s
   AND NOT EXISTS (
       SELECT 1 FROM blobs newer
        WHERE newer.hash = b.hash AND newer.status <> 'failed' AND newer.parsed_at > b.parsed_at
   )
