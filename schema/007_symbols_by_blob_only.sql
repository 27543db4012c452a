-- symbols keeps one index, its primary key (blob_hash, parser_version, ordinal): outlines are read
-- by blob. The index on qualified_name (001) served no query of parsefleet's and cost the workers'
-- commits about a quarter of PostgreSQL's time per batch (docs/benchmarks.md, 2026-11-27 evening).
-- A reader that looks symbols up by name can build it again, online:
--   CREATE INDEX CONCURRENTLY symbols_qualified_name_idx ON symbols (qualified_name);
DROP INDEX IF EXISTS symbols_qualified_name_idx;
