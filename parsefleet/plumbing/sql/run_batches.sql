-- Which of the given batch ids belong to a run: the batches it sent, and the halves of split ones
-- (ids '<batch id>.0', '<batch id>.1.0', ...).
SELECT id FROM unnest(%(ids)s::text[]) AS given (id)
 WHERE split_part(id, '.', 1) IN (SELECT b.id FROM batches b WHERE b.run_id = %(run_id)s)
