INSERT INTO cli_runs (time, command, duration_ms, exit_code, ci, run_id, step2)
VALUES (%(time)s, %(command)s, %(duration_ms)s, %(exit_code)s, %(ci)s, %(run_id)s, %(step2)s)
