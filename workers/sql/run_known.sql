-- Whether the batch's run exists in this database (a worker pointed at another database sees none).
SELECT EXISTS (SELECT 1 FROM runs WHERE id = %(run_id)s::uuid)
