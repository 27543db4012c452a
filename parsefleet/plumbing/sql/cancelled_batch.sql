-- A batch withdrawn from its queue: a result row whose files are all cancelled (a worker that
-- committed it first keeps its own row).
INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed, symbols,
                           duration_ms, worker, cancelled)
VALUES (%(batch_id)s, %(run_id)s, %(language)s, %(files)s, 0, 0, 0, 0, 0, 0, 'cancelled', %(files)s)
ON CONFLICT (batch_id) DO NOTHING
