-- The latest finished run's start and finish, in epoch seconds: the reads bench's measured run.
SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at)
FROM runs
WHERE finished_at IS NOT NULL
ORDER BY started_at DESC
LIMIT 1
