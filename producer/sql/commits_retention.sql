-- Keep the newest %(kept)s indexed commits of a repository readable by commit; older ones stay in
-- the history of runs, and the file versions no kept commit sees are dropped.
WITH oldest_kept AS (
    SELECT min(seq) AS seq FROM (
        SELECT seq FROM repository_commits WHERE repository_id = %(repository_id)s ORDER BY seq DESC LIMIT %(kept)s
    ) newest
), dropped AS (
    UPDATE repository_commits SET kept = false
     WHERE repository_id = %(repository_id)s AND kept AND seq < (SELECT seq FROM oldest_kept)
)
DELETE FROM file_versions
 WHERE repository_id = %(repository_id)s AND to_seq IS NOT NULL AND to_seq <= (SELECT seq FROM oldest_kept)
