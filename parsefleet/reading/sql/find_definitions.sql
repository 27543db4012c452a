-- Definitions whose name or qualified name matches, in each repository's current tree (files: one
-- blob per repository and path), from the latest outline of each blob (a blob outlined again by a
-- newer parser version shows the newer outline). Served by symbols_name_lower_idx and
-- symbols_qualified_name_lower_idx (schema/010): a bitmap OR of two index scans, equal or by
-- prefix on lower(...); the case-exact checks and the filters run on the few rows found.
-- %(pattern)s and %(alternative)s are lower-cased LIKE patterns (escaped; a prefix ends in %%);
-- %(exact)s/%(exact_alternative)s are the case-exact LIKE patterns, or NULL to ignore case.
SELECT r.root AS repository, f.path, f.language, s.kind, s.name, s.qualified_name, s.visibility,
       s.start_line, s.end_line, p.qualified_name AS parent, p.kind AS parent_kind
  FROM symbols s
  JOIN blobs b ON b.hash = s.blob_hash AND b.parser_version = s.parser_version
  JOIN files f ON f.blob_hash = s.blob_hash
  JOIN repositories r ON r.id = f.repository_id
  LEFT JOIN symbols p
         ON p.blob_hash = s.blob_hash AND p.parser_version = s.parser_version AND p.ordinal = s.parent_ordinal
 WHERE (lower(s.name) LIKE %(pattern)s OR lower(s.qualified_name) LIKE %(pattern)s
        OR lower(s.qualified_name) LIKE %(alternative)s)
   AND (%(exact)s::text IS NULL OR s.name LIKE %(exact)s OR s.qualified_name LIKE %(exact)s
        OR s.qualified_name LIKE %(exact_alternative)s)
   AND (%(kind)s::text IS NULL OR s.kind = %(kind)s)
   AND (%(language)s::text IS NULL OR f.language = %(language)s)
   AND (%(repository_ids)s::bigint[] IS NULL OR f.repository_id = ANY(%(repository_ids)s))
   AND NOT EXISTS (
       SELECT 1 FROM blobs newer
        WHERE newer.hash = b.hash AND newer.status <> 'failed' AND newer.parsed_at > b.parsed_at
   )
 ORDER BY (s.name = %(query)s OR s.qualified_name = %(query)s) DESC, length(s.qualified_name), s.qualified_name,
          r.root, f.path, s.start_line
 LIMIT %(limit)s
