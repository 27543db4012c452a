-- The producer's last committed write of a run (producer/records.py): after a lost connection it
-- reads this and writes again only what had not committed.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS producer_step integer NOT NULL DEFAULT 0;
