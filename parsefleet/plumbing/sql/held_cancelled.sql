-- The versions a run's producer held without a batch when it stopped (history mode,
-- producer/resume.py): cancelling the run records them in one batch per language, with a result
-- whose files are cancelled, so that the run's account closes.
WITH held AS (
    UPDATE run_held SET batch_id = run_id::text || ':held-' || language
     WHERE run_id = %(run_id)s AND batch_id IS NULL AND NOT refused
    RETURNING run_id, language, size_bytes, batch_id
), recorded AS (
    INSERT INTO batches (id, run_id, language, files, size_bytes, enqueued_at)
    SELECT batch_id, run_id, language, count(*), sum(size_bytes), now() FROM held GROUP BY batch_id, run_id, language
    RETURNING id, run_id, language, files
)
INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed, symbols,
                           duration_ms, worker, cancelled)
SELECT id, run_id, language, files, 0, 0, 0, 0, 0, 0, 'cancelled', files FROM recorded
ON CONFLICT (batch_id) DO NOTHING
