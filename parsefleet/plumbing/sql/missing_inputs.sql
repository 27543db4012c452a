-- The input counts of a run whose producer never wrote them (it stopped mid-way): what it sent.
INSERT INTO run_inputs (run_id, language, seen, sent)
SELECT run_id, language, sum(files), sum(files) FROM batches WHERE run_id = %(run_id)s GROUP BY run_id, language
ON CONFLICT (run_id, language) DO NOTHING
