-- True when the TimescaleDB extension is installed in this database (time_bucket exists).
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
