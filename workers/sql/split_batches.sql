-- The halves of a split batch, beside the batches the producer recorded.
INSERT INTO batches (id, run_id, language, files, size_bytes, enqueued_at)
SELECT id, %(run_id)s, %(language)s, files, size_bytes, now()
  FROM unnest(%(ids)s::text[], %(files)s::int[], %(sizes)s::bigint[]) AS part (id, files, size_bytes)
ON CONFLICT (id) DO NOTHING
