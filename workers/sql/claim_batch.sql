-- The idempotency key: a batch whose result row exists was committed before; write nothing twice,
-- only count the delivery. ``claimed`` is true for the first delivery that commits.
INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed, symbols,
                           duration_ms, worker)
VALUES (%(batch_id)s, %(run_id)s, %(language)s, %(files)s, %(parsed)s, %(partial)s, %(fallback)s,
        %(failed)s, %(symbols)s, %(duration_ms)s, %(worker)s)
ON CONFLICT (batch_id) DO UPDATE SET deliveries = batch_results.deliveries + 1
RETURNING (xmax = 0) AS claimed
