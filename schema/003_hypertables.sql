-- Hypertables when the TimescaleDB extension can be loaded; plain tables (with the time
-- indexes of 002) otherwise. Every query parsefleet runs works on both.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        PERFORM create_hypertable('batch_metrics', 'time', chunk_time_interval => interval '1 day',
                                  if_not_exists => true, migrate_data => true);
        PERFORM create_hypertable('parse_failures', 'time', chunk_time_interval => interval '7 days',
                                  if_not_exists => true, migrate_data => true);
        PERFORM create_hypertable('cli_runs', 'time', chunk_time_interval => interval '7 days',
                                  if_not_exists => true, migrate_data => true);
    END IF;
END
$$;
