-- The definition names the reads bench looks up: every distinct name, in a stable order (sampled
-- with a fixed seed by parsefleet/bench/reads.py).
SELECT DISTINCT name FROM symbols ORDER BY name
