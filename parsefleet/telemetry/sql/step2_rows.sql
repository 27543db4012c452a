-- Step 2 rows (batch_metrics) written since %(since)s: what `telemetry revert --drop-data` deletes.
SELECT count(*) FROM batch_metrics WHERE time >= %(since)s
