-- Targets (%(targets)s, as given) whose listing failed in %(failures)s or more earlier runs (not
-- %(run_id)s): they are read after the others.
SELECT target FROM run_targets
 WHERE target = ANY(%(targets)s) AND error IS NOT NULL AND run_id <> %(run_id)s
 GROUP BY target
HAVING count(*) >= %(failures)s
