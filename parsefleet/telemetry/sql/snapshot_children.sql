-- The inheritance children of the telemetry tables: TimescaleDB's chunks (none on plain PostgreSQL).
SELECT n.nspname, c.relname
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE i.inhparent IN (SELECT oid FROM pg_class WHERE relname = ANY(%(tables)s) AND relnamespace = 'public'::regnamespace)
 ORDER BY 1, 2
