-- The batches of a run recorded by its producer that have no result yet.
SELECT b.id, b.language, b.files FROM batches b
 WHERE b.run_id = %(run_id)s
   AND NOT EXISTS (SELECT 1 FROM batch_results r WHERE r.batch_id = b.id)
 ORDER BY b.id
