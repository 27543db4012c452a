INSERT INTO runs (id, targets, target_origins, target_plans, ci)
VALUES (%(run_id)s, %(targets)s, %(origins)s, %(plans)s, %(ci)s)
