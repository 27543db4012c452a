INSERT INTO runs (id, targets, target_origins, ci) VALUES (%(run_id)s, %(targets)s, %(origins)s, %(ci)s)
