-- How many batches replaced this one (0: it was parsed and stored; no row: neither yet).
SELECT split_into FROM batch_results WHERE batch_id = %(batch_id)s
