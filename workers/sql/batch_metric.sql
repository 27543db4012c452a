INSERT INTO batch_metrics (time, run_id, batch_id, language, worker, files, size_bytes, duration_ms, queue_wait_ms)
VALUES (%(time)s, %(run_id)s, %(batch_id)s, %(language)s, %(worker)s, %(files)s, %(size_bytes)s, %(duration_ms)s,
        %(queue_wait_ms)s)
