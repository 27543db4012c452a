-- Keep the newest indexed commits of each repository of %(repository_ids)s (as many as %(kept)s says
-- beside it) readable by commit; older ones stay in the history of runs, and the file versions no
-- kept commit sees are dropped.
WITH oldest_kept AS (
    SELECT g.repository_id,
           (SELECT min(newest.seq) FROM (
                SELECT c.seq FROM repository_commits c
                 WHERE c.repository_id = g.repository_id ORDER BY c.seq DESC LIMIT g.kept
           ) newest) AS seq
      FROM unnest(%(repository_ids)s::bigint[], %(kept)s::integer[]) AS g(repository_id, kept)
), dropped AS (
    UPDATE repository_commits c SET kept = false
      FROM oldest_kept o
     WHERE c.repository_id = o.repository_id AND c.kept AND c.seq < o.seq
)
DELETE FROM file_versions v
 USING oldest_kept o
 WHERE v.repository_id = o.repository_id AND v.to_seq IS NOT NULL AND v.to_seq <= o.seq
