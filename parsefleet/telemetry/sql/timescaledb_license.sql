-- The TimescaleDB edition in use: NULL without the extension, 'apache' or 'timescale' with it.
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
            THEN current_setting('timescaledb.license', true) END
