-- New blobs, and blobs whose earlier attempt failed, take this outline; returns the hashes that did.
INSERT INTO blobs (hash, parser_version, language, status, failure_kind, error_count, unexpanded_macros,
                   size_bytes, symbol_count)
SELECT DISTINCT ON (hash) hash, %(parser_version)s, %(language)s, status, failure_kind, error_count,
       unexpanded_macros, size_bytes, symbol_count
  FROM unnest(%(hashes)s::bytea[], %(statuses)s::text[], %(failure_kinds)s::text[], %(error_counts)s::int[],
              %(unexpanded)s::int[], %(sizes)s::bigint[], %(symbol_counts)s::int[])
       AS fresh (hash, status, failure_kind, error_count, unexpanded_macros, size_bytes, symbol_count)
ON CONFLICT (hash, parser_version) DO UPDATE
   SET status = EXCLUDED.status, failure_kind = EXCLUDED.failure_kind, error_count = EXCLUDED.error_count,
       unexpanded_macros = EXCLUDED.unexpanded_macros, symbol_count = EXCLUDED.symbol_count,
       parsed_at = now()
 WHERE blobs.status = 'failed' AND EXCLUDED.status <> 'failed'
RETURNING hash
