-- What the readers (`parsefleet find`, the console's search and its API, parsefleet/reading/) look
-- definitions up by: a definition's name or qualified name, compared case-insensitively (with an
-- exact check on top when the reader asks for case), equal or by prefix. text_pattern_ops lets one
-- btree serve both `lower(x) = $1` and `lower(x) LIKE 'prefix%'` whatever the database's collation.
-- The plain qualified_name index of 001 served no query and is replaced: one more index on symbols
-- in all, which the workers' COPY maintains.
CREATE INDEX IF NOT EXISTS symbols_name_lower_idx ON symbols (lower(name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS symbols_qualified_name_lower_idx ON symbols (lower(qualified_name) text_pattern_ops);
DROP INDEX IF EXISTS symbols_qualified_name_idx;

-- The measurement charts of the console read batch latency from the ledger by time
-- (batch_results_finished_at_idx, 006) and failures by time (parse_failures_time_idx, 002); the
-- outline of one file reads files by (repository_id, path), its primary key; a file's outline
-- (symbols, imports) is read by (blob_hash, parser_version), their primary keys' prefix.
