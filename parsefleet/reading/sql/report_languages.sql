-- Per language: what the producer saw and sent, what the workers stored, and batch latency.
WITH run AS (
    SELECT id, started_at FROM runs WHERE id = %(run_id)s
), results AS (
    SELECT language, sum(files) AS files, sum(parsed) AS parsed, sum(partial) AS partial,
           sum(fallback) AS fallback, sum(failed) AS failed, sum(symbols) AS symbols,
           max(finished_at) AS last_at
      FROM batch_results WHERE run_id = %(run_id)s GROUP BY language
), latency AS (
    -- from the ledger (every batch, whatever the telemetry flag); split batches hold no files
    SELECT language,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
      FROM batch_results
     WHERE run_id = %(run_id)s AND files > 0
     GROUP BY language
), refused AS (
    SELECT language, count(*) AS files
      FROM parse_failures, run
     WHERE parse_failures.run_id = run.id AND parse_failures.time >= run.started_at
       AND parse_failures.batch_id IS NULL
     GROUP BY language
)
SELECT i.language, i.seen, i.sent,
       coalesce(r.files, 0) AS done,
       coalesce(r.parsed, 0) AS parsed, coalesce(r.partial, 0) AS partial, coalesce(r.fallback, 0) AS fallback,
       coalesce(r.failed, 0) + coalesce(f.files, 0) AS failed,
       coalesce(r.symbols, 0) AS symbols,
       extract(epoch FROM (r.last_at - run.started_at)) AS elapsed_s,
       l.p50_ms, l.p95_ms
  FROM run_inputs i
  JOIN run ON run.id = i.run_id
  LEFT JOIN results r ON r.language = i.language
  LEFT JOIN latency l ON l.language = i.language
  LEFT JOIN refused f ON f.language = i.language
 ORDER BY i.language
