-- Runs neither finished nor cancelled, newest first: source bytes sent so far and done, bytes and
-- files done in the last minute (the rate of the ETA) and the first of those results; targets given
-- and read (a `run_targets` row: done with by the producer, failed or not). A split batch's bytes
-- are counted in its halves (each a batch of its own), not in itself.
WITH open_runs AS (
    SELECT id, started_at, submitted_at, cardinality(targets) AS targets_total
      FROM runs
     WHERE finished_at IS NULL AND cancelled_at IS NULL
     ORDER BY started_at DESC
     LIMIT %(limit)s
)
SELECT r.id::text AS run_id, r.started_at, r.submitted_at IS NOT NULL AS submitted,
       count(b.id) FILTER (WHERE coalesce(res.split_into, 0) = 0)::int AS batches_sent,
       count(res.batch_id) FILTER (WHERE res.split_into = 0)::int AS batches_done,
       coalesce(sum(b.size_bytes) FILTER (WHERE coalesce(res.split_into, 0) = 0), 0)::bigint AS bytes_sent,
       coalesce(sum(b.size_bytes) FILTER (WHERE res.split_into = 0), 0)::bigint AS bytes_done,
       coalesce(sum(b.size_bytes) FILTER (WHERE res.split_into = 0 AND res.finished_at >= now() - interval '60 seconds'),
                0)::bigint AS bytes_last_minute,
       extract(epoch FROM now() - min(res.finished_at) FILTER (WHERE res.finished_at >= now() - interval '60 seconds'))
           ::double precision AS window_s,
       coalesce(sum(res.files) FILTER (WHERE res.split_into = 0 AND res.finished_at >= now() - interval '60 seconds'),
                0)::bigint AS files_last_minute,
       coalesce(r.targets_total, 0)::int AS targets_total,
       (SELECT count(*) FROM run_targets t WHERE t.run_id = r.id)::int AS targets_read
  FROM open_runs r
  LEFT JOIN batches b ON b.run_id = r.id
  LEFT JOIN batch_results res ON res.batch_id = b.id
 GROUP BY r.id, r.started_at, r.submitted_at, r.targets_total
 ORDER BY r.started_at DESC
