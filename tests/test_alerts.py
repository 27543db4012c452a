"""`parsefleet alerts check` against stored measurements, on plain PostgreSQL and TimescaleDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

pytestmark = pytest.mark.service


def _check(database_url: str) -> tuple[int, list[dict[str, object]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")},
        "PARSEFLEET_DATABASE_URL": database_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", "alerts", "check", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def _seed(database_url: str, *, slow: int, failures: int, ci_ok: int, ci_failed: int) -> None:
    with psycopg.connect(database_url) as conn:
        for index in range(20):  # batch latency comes from batch_results: every batch, whatever the flag
            conn.execute(
                "INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed,"
                " symbols, duration_ms, worker) VALUES (gen_random_uuid()::text, gen_random_uuid(), 'go', 1, 1, 0, 0,"
                " 0, 0, %s, 'w')",
                (900.0 if index < slow else 20.0,),
            )
        for index in range(failures):
            conn.execute(
                "INSERT INTO parse_failures (time, run_id, repository_id, path, language, kind, message)"
                " VALUES (now(), gen_random_uuid(), 1, %s, 'python', 'timeout', 'm')",
                (f"f{index}.py",),
            )
        for code in [0] * ci_ok + [1] * ci_failed:
            conn.execute(
                "INSERT INTO cli_runs (time, command, duration_ms, exit_code, ci) VALUES (now(), 'run', 1.0, %s, true)",
                (code,),
            )


@pytest.mark.parametrize("backend", ["postgresql", "timescaledb"])
def test_quiet_figures_pass_and_each_breach_fires(backend: str, request: pytest.FixtureRequest) -> None:
    database_url = request.getfixturevalue("clean_db" if backend == "postgresql" else "tsdb_url")
    code, alerts = _check(database_url)
    assert code == 0 and not any(alert["firing"] for alert in alerts)
    assert [alert["value"] for alert in alerts] == [None, 0.0, None]

    _seed(database_url, slow=0, failures=2, ci_ok=9, ci_failed=1)
    code, alerts = _check(database_url)
    assert code == 0, alerts

    _seed(database_url, slow=20, failures=1, ci_ok=0, ci_failed=3)
    code, alerts = _check(database_url)
    firing = {alert["name"] for alert in alerts if alert["firing"]}
    assert code == 1
    assert firing == {
        "parser_duration_ms p95 (1 h) above",
        "parser_failure_total (1 h) at least",
        "cicd_success_ratio (24 h) below",
    }
