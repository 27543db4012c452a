-- A run that did not finish sending: the repositories it indexed forget their commit, so that the
-- next run lists their whole tree again (files the run read but never sent are sent then).
UPDATE repositories SET indexed_commit = NULL
 WHERE id IN (SELECT repository_id FROM repository_commits WHERE run_id = %(run_id)s)
