INSERT INTO cli_runs (time, command, duration_ms, exit_code, ci, run_id)
VALUES (now(), %(command)s, %(duration_ms)s, %(exit_code)s, %(ci)s, %(run_id)s)
