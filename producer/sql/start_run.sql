INSERT INTO runs (id, targets, ci) VALUES (%(run_id)s, %(targets)s, %(ci)s)
