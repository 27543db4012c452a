-- A submitted run is never rebuilt nor resumed: what only a resumed producer needs goes.
WITH held AS (DELETE FROM run_held WHERE run_id = %(run_id)s)
DELETE FROM run_repositories WHERE run_id = %(run_id)s
