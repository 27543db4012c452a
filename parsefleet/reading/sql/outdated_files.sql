-- One file for each outdated blob (outdated_blobs.sql), of the repositories %(repository_ids)s
-- (NULL: all) and the language %(language)s (NULL: all): where `parsefleet reindex` reads it again
-- (the repository's location and indexed commit), and its size from the older outline.
SELECT DISTINCT ON (f.language, f.blob_hash)
       r.id AS repository_id, r.root AS name, r.location, r.indexed_commit, f.path, f.blob_hash, f.language,
       o.size_bytes
  FROM files f
  JOIN unnest(%(languages)s::text[], %(versions)s::text[]) AS v (language, version) ON v.language = f.language
  JOIN repositories r ON r.id = f.repository_id
  JOIN LATERAL (SELECT size_bytes FROM blobs o WHERE o.hash = f.blob_hash AND o.language = f.language LIMIT 1) o ON true
 WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = f.blob_hash AND b.parser_version = v.version)
   AND (%(language)s::text IS NULL OR f.language = %(language)s)
   AND (%(repository_ids)s::bigint[] IS NULL OR f.repository_id = ANY(%(repository_ids)s))
 ORDER BY f.language, f.blob_hash, r.id, f.path
