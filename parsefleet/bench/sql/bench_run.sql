-- A run for the batches the bench's cost measures write without a producer: the store refuses a
-- batch whose run its database does not hold (workers/store.py).
INSERT INTO runs (id, targets) VALUES (%(run_id)s::uuid, ARRAY['parsefleet bench costs'])
