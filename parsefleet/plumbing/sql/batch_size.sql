-- The language and file count of a batch as the producer recorded it.
SELECT language, files FROM batches WHERE id = %(batch_id)s
