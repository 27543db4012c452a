DELETE FROM batch_metrics WHERE time >= %(since)s
