-- This connection's staging tables: the symbol and import rows of a batch too large to keep in a
-- worker's memory, copied here file by file as its files are outlined, in the batch's transaction
-- (workers/store.py); its commit moves the rows of the blobs it claimed (staged_outlines.sql).
-- Temporary (this session's alone), without indexes, and emptied at the end of every transaction.
CREATE TEMPORARY TABLE IF NOT EXISTS staged_symbols (LIKE symbols) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS staged_imports (LIKE imports) ON COMMIT DELETE ROWS;
