-- Definitions whose name or qualified name matches, in each repository's current tree (files: one
-- blob per repository and path), from the latest outline of each blob (a blob outlined again by a
-- newer parser version shows the newer outline).
--
-- One branch per index of schema/010 (lower(name), lower(qualified_name), and the qualified name's
-- Go pointer-receiver spelling), each read in the index's order (USING ~<~, text_pattern_ops) and
-- stopped after %(limit)s rows that pass the filters: a prefix matching 40,000 definitions reads
-- about %(limit)s of them, not all. The answer is ordered exact matches first, then by the matched
-- name without case, repository, path and line.
-- %(pattern)s and %(alternative)s are lower-cased LIKE patterns (escaped; a prefix ends in %%;
-- %(alternative)s NULL when the query has no other spelling); %(exact)s/%(exact_alternative)s the
-- case-exact patterns, or NULL to ignore case.
WITH by_name AS (
    SELECT lower(s.name) AS key, s.*, f.repository_id, f.path, f.language
      FROM symbols s
      JOIN blobs b ON b.hash = s.blob_hash AND b.parser_version = s.parser_version
      JOIN files f ON f.blob_hash = s.blob_hash
     WHERE lower(s.name) LIKE %(pattern)s
       AND (%(exact)s::text IS NULL OR s.name LIKE %(exact)s)
       AND (%(kind)s::text IS NULL OR s.kind = %(kind)s)
       AND (%(language)s::text IS NULL OR f.language = %(language)s)
       AND (%(repository_ids)s::bigint[] IS NULL OR f.repository_id = ANY(%(repository_ids)s))
       AND NOT EXISTS (SELECT 1 FROM blobs newer
                        WHERE newer.hash = b.hash AND newer.status <> 'failed' AND newer.parsed_at > b.parsed_at)
     ORDER BY lower(s.name) USING ~<~, f.repository_id, f.path, s.start_line
     LIMIT %(limit)s
), by_qualified AS (
    SELECT lower(s.qualified_name) AS key, s.*, f.repository_id, f.path, f.language
      FROM symbols s
      JOIN blobs b ON b.hash = s.blob_hash AND b.parser_version = s.parser_version
      JOIN files f ON f.blob_hash = s.blob_hash
     WHERE lower(s.qualified_name) LIKE %(pattern)s
       AND NOT (lower(s.name) LIKE %(pattern)s AND (%(exact)s::text IS NULL OR s.name LIKE %(exact)s))
       AND (%(exact)s::text IS NULL OR s.qualified_name LIKE %(exact)s)
       AND (%(kind)s::text IS NULL OR s.kind = %(kind)s)
       AND (%(language)s::text IS NULL OR f.language = %(language)s)
       AND (%(repository_ids)s::bigint[] IS NULL OR f.repository_id = ANY(%(repository_ids)s))
       AND NOT EXISTS (SELECT 1 FROM blobs newer
                        WHERE newer.hash = b.hash AND newer.status <> 'failed' AND newer.parsed_at > b.parsed_at)
     ORDER BY lower(s.qualified_name) USING ~<~, f.repository_id, f.path, s.start_line
     LIMIT %(limit)s
), by_alternative AS (
    SELECT lower(s.qualified_name) AS key, s.*, f.repository_id, f.path, f.language
      FROM symbols s
      JOIN blobs b ON b.hash = s.blob_hash AND b.parser_version = s.parser_version
      JOIN files f ON f.blob_hash = s.blob_hash
     WHERE lower(s.qualified_name) LIKE %(alternative)s
       AND (%(exact_alternative)s::text IS NULL OR s.qualified_name LIKE %(exact_alternative)s)
       AND (%(kind)s::text IS NULL OR s.kind = %(kind)s)
       AND (%(language)s::text IS NULL OR f.language = %(language)s)
       AND (%(repository_ids)s::bigint[] IS NULL OR f.repository_id = ANY(%(repository_ids)s))
       AND NOT EXISTS (SELECT 1 FROM blobs newer
                        WHERE newer.hash = b.hash AND newer.status <> 'failed' AND newer.parsed_at > b.parsed_at)
     ORDER BY lower(s.qualified_name) USING ~<~, f.repository_id, f.path, s.start_line
     LIMIT %(limit)s
), found AS (
    SELECT * FROM by_name UNION ALL SELECT * FROM by_qualified UNION ALL SELECT * FROM by_alternative
)
SELECT r.root AS repository, m.path, m.language, m.kind, m.name, m.qualified_name, m.visibility,
       m.start_line, m.end_line, p.qualified_name AS parent, p.kind AS parent_kind
  FROM found m
  JOIN repositories r ON r.id = m.repository_id
  LEFT JOIN symbols p
         ON p.blob_hash = m.blob_hash AND p.parser_version = m.parser_version AND p.ordinal = m.parent_ordinal
 ORDER BY (m.name = %(query)s OR m.qualified_name = %(query)s) DESC, m.key USING ~<~, m.repository_id, m.path,
          m.start_line
 LIMIT %(limit)s
