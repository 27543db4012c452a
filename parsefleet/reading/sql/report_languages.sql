-- Per language: what the producer saw and sent, what the workers stored, and batch latency.
-- busy_s: from the start of the language's first batch to the end of its last (its own busy time);
-- elapsed_s: from the start of the run to the end of the language's last batch.
WITH run AS (
    SELECT id, started_at FROM runs WHERE id = %(run_id)s
), results AS (
    SELECT language, sum(files) AS files, sum(parsed) AS parsed, sum(partial) AS partial,
           sum(fallback) AS fallback, sum(failed) AS failed, sum(symbols) AS symbols,
           sum(cancelled) AS cancelled,
           max(finished_at) AS last_at,
           min(finished_at - duration_ms * interval '1 millisecond') FILTER (WHERE cancelled = 0) AS first_at
      FROM batch_results WHERE run_id = %(run_id)s GROUP BY language
), latency AS (
    -- from the ledger (every batch, whatever the telemetry flag); split and withdrawn batches hold no parse
    SELECT language,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
      FROM batch_results
     WHERE run_id = %(run_id)s AND files > 0 AND cancelled = 0
     GROUP BY language
), refused AS (
    SELECT language, count(*) AS files
      FROM parse_failures, run
     WHERE parse_failures.run_id = run.id AND parse_failures.time >= run.started_at
       AND parse_failures.batch_id IS NULL
     GROUP BY language
)
SELECT i.language, i.seen, i.sent,
       coalesce(r.files, 0)::int - coalesce(r.cancelled, 0)::int AS done,
       coalesce(r.parsed, 0)::int AS parsed, coalesce(r.partial, 0)::int AS partial,
       coalesce(r.fallback, 0)::int AS fallback,
       (coalesce(r.failed, 0) + coalesce(f.files, 0))::int AS failed,
       coalesce(r.cancelled, 0)::int AS cancelled,
       coalesce(r.symbols, 0)::int AS symbols,
       extract(epoch FROM (r.last_at - run.started_at))::float8 AS elapsed_s,
       extract(epoch FROM (r.last_at - r.first_at))::float8 AS busy_s,
       l.p50_ms::float8 AS p50_ms, l.p95_ms::float8 AS p95_ms
  FROM run_inputs i
  JOIN run ON run.id = i.run_id
  LEFT JOIN results r ON r.language = i.language
  LEFT JOIN latency l ON l.language = i.language
  LEFT JOIN refused f ON f.language = i.language
 ORDER BY i.language
