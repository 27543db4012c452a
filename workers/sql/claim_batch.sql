-- The idempotency key and the blobs, in one statement: the batch_results row is claimed first, and
-- only a claim that is new (``claimed``: the first delivery that commits) inserts its blobs. A batch
-- whose result row exists was committed before: write nothing twice, only count the delivery.
-- New blobs, and blobs whose earlier attempt failed, take this outline; ``fresh`` lists their hashes.
WITH claim AS (
    INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed, symbols,
                               duration_ms, cpu_ms, worker)
    VALUES (%(batch_id)s, %(run_id)s, %(language)s, %(files)s, %(parsed)s, %(partial)s, %(fallback)s,
            %(failed)s, %(symbols)s, %(duration_ms)s, %(cpu_ms)s, %(worker)s)
    ON CONFLICT (batch_id) DO UPDATE SET deliveries = batch_results.deliveries + 1
    RETURNING (xmax = 0) AS claimed
), fresh AS (
    INSERT INTO blobs (hash, parser_version, language, status, failure_kind, error_count, unexpanded_macros,
                       size_bytes, symbol_count)
    SELECT DISTINCT ON (hash) hash, %(parser_version)s, %(language)s, status, failure_kind, error_count,
           unexpanded_macros, size_bytes, symbol_count
      FROM unnest(%(hashes)s::bytea[], %(statuses)s::text[], %(failure_kinds)s::text[], %(error_counts)s::int[],
                  %(unexpanded)s::int[], %(sizes)s::bigint[], %(symbol_counts)s::int[])
           AS given (hash, status, failure_kind, error_count, unexpanded_macros, size_bytes, symbol_count)
     WHERE (SELECT claimed FROM claim)
    ON CONFLICT (hash, parser_version) DO UPDATE
       SET status = EXCLUDED.status, failure_kind = EXCLUDED.failure_kind, error_count = EXCLUDED.error_count,
           unexpanded_macros = EXCLUDED.unexpanded_macros, symbol_count = EXCLUDED.symbol_count,
           parsed_at = now()
     WHERE blobs.status = 'failed' AND EXCLUDED.status <> 'failed'
    RETURNING hash
)
SELECT (SELECT claimed FROM claim), ARRAY(SELECT hash FROM fresh)
