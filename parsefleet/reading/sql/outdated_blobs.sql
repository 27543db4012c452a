-- Outdated outlines: blobs of the repositories' current views (files) that the parser version now
-- in use for their language (%(languages)s paired with %(versions)s) has not outlined, though an
-- older one did. Per language; `parsefleet reindex` parses them again.
SELECT f.language, count(DISTINCT f.blob_hash)::int AS blobs
  FROM files f
  JOIN unnest(%(languages)s::text[], %(versions)s::text[]) AS v (language, version) ON v.language = f.language
 WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = f.blob_hash AND b.parser_version = v.version)
   AND EXISTS (SELECT 1 FROM blobs o WHERE o.hash = f.blob_hash AND o.language = f.language)
 GROUP BY f.language
 ORDER BY f.language
