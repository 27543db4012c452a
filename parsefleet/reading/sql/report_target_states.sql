-- The targets of a run, in order, each with its state: pending (not yet read), failed (a bad line,
-- a listing that failed), sending (read, some of its batches without a result) or done; files
-- listed, sent in batches and done. Per file from `files`, which follows the latest run of each
-- repository: for an older run, a repository indexed since counts its files for the newer run.
WITH run AS (
    SELECT id, targets FROM runs WHERE id = %(run_id)s
), given AS (
    SELECT u.ordinal::int AS ordinal, u.target
      FROM run, unnest(run.targets) WITH ORDINALITY AS u(target, ordinal)
), counted AS (
    SELECT t.ordinal,
           count(f.batch_id)::int AS sent,
           count(b.batch_id)::int AS done
      FROM run_targets t
      JOIN files f ON f.repository_id = t.repository_id AND f.last_run_id = t.run_id
      LEFT JOIN batch_results b ON b.batch_id = f.batch_id
     WHERE t.run_id = %(run_id)s
     GROUP BY t.ordinal
)
SELECT g.ordinal, g.target, coalesce(t.origin, '') AS origin,
       CASE WHEN t.ordinal IS NULL THEN 'pending'
            WHEN t.error IS NOT NULL THEN 'failed'
            WHEN coalesce(c.done, 0) < coalesce(c.sent, 0) THEN 'sending'
            ELSE 'done' END AS state,
       coalesce(t.files, 0) AS files, coalesce(c.sent, 0) AS sent, coalesce(c.done, 0) AS done, t.error
  FROM given g
  LEFT JOIN run_targets t ON t.run_id = %(run_id)s AND t.ordinal = g.ordinal
  LEFT JOIN counted c ON c.ordinal = g.ordinal
 ORDER BY g.ordinal
