-- The bulk bench's run (the only one on its scratch database): files done, the run's seconds and
-- the seconds to its first stored outline, on the database's clock.
SELECT (SELECT coalesce(sum(files - cancelled), 0) FROM batch_results b WHERE b.run_id = r.id)::int,
       extract(epoch FROM r.finished_at - r.started_at)::float8,
       extract(epoch FROM (SELECT min(finished_at) FROM batch_results b WHERE b.run_id = r.id) - r.started_at)::float8
  FROM runs r
 WHERE r.finished_at IS NOT NULL
 ORDER BY r.started_at DESC
 LIMIT 1
