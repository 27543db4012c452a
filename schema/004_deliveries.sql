-- How many times each batch was delivered to a worker (redeliveries after a lost worker count).
ALTER TABLE batch_results ADD COLUMN IF NOT EXISTS deliveries integer NOT NULL DEFAULT 1;
