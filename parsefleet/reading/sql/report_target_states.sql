-- The targets of a run, in order, each with its state: pending (not yet read), listing (read in
-- part: its producer has recorded some of its files), failed (a bad line, a listing that failed),
-- sending (read, some of its batches without a result) or done; files listed, sent in batches and
-- done, and their source bytes. Per file from `files`, which follows the latest run of each
-- repository: for an older run, a repository indexed since counts its files for the newer run;
-- a repository given as several targets counts them for its last one.
WITH run AS (
    SELECT id, targets, resume_offsets FROM runs WHERE id = %(run_id)s
), given AS (
    SELECT u.ordinal::int AS ordinal, u.target
      FROM run, unnest(run.targets) WITH ORDINALITY AS u(target, ordinal)
), located AS (
    -- each target's repository: its run_targets row's, else (read in part) the one the run reads
    -- from its path (a mirror named by its origin URL), else the one its path names
    SELECT g.ordinal, coalesce(t.repository_id, k.repository_id, r.id) AS repository_id
      FROM run
      JOIN given g ON true
      LEFT JOIN run_targets t ON t.run_id = run.id AND t.ordinal = g.ordinal
      LEFT JOIN run_repositories k
        ON t.ordinal IS NULL AND run.resume_offsets ? g.ordinal::text AND k.run_id = run.id AND k.location = g.target
      LEFT JOIN repositories r ON t.ordinal IS NULL AND run.resume_offsets ? g.ordinal::text AND r.root = g.target
), last AS (
    -- a repository given as several targets (the commits of --history) counts its files once, for
    -- the last of them: `files` holds each path's last version only
    SELECT DISTINCT ON (repository_id) ordinal, repository_id
      FROM located
     WHERE repository_id IS NOT NULL
     ORDER BY repository_id, ordinal DESC
), counted AS (
    SELECT l.ordinal,
           count(f.batch_id)::int AS sent,
           count(b.batch_id)::int AS done,
           coalesce(sum(f.size_bytes) FILTER (WHERE f.batch_id IS NOT NULL), 0)::bigint AS bytes_sent,
           coalesce(sum(f.size_bytes) FILTER (WHERE b.batch_id IS NOT NULL), 0)::bigint AS bytes_done
      FROM run
      JOIN last l ON true
      JOIN files f ON f.repository_id = l.repository_id AND f.last_run_id = run.id
      LEFT JOIN batch_results b ON b.batch_id = f.batch_id
     GROUP BY l.ordinal
)
SELECT g.ordinal, g.target, coalesce(t.origin, '') AS origin,
       CASE WHEN t.ordinal IS NULL AND run.resume_offsets ? g.ordinal::text THEN 'listing'
            WHEN t.ordinal IS NULL THEN 'pending'
            WHEN t.error IS NOT NULL THEN 'failed'
            WHEN coalesce(c.done, 0) < coalesce(c.sent, 0) THEN 'sending'
            ELSE 'done' END AS state,
       coalesce(t.files, 0) AS files, coalesce(c.sent, 0) AS sent, coalesce(c.done, 0) AS done,
       coalesce(c.bytes_sent, 0) AS bytes_sent, coalesce(c.bytes_done, 0) AS bytes_done, t.error
  FROM run, given g
  LEFT JOIN run_targets t ON t.run_id = %(run_id)s AND t.ordinal = g.ordinal
  LEFT JOIN counted c ON c.ordinal = g.ordinal
 ORDER BY g.ordinal
