"""Which PostgreSQL errors are outages, and a worker pointed at the wrong database, against real
worker processes, Redis and PostgreSQL.

Before: every psycopg error was an outage, so a worker whose statements a release broke retried
its batches forever; and a worker on another database than its producer's (same Redis) committed
batches of runs that database never saw, so the real run never finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery

from parsefleet.cli import commands
from parsefleet.contract.batch import Batch, BatchFile, FileRef, encode_batch
from parsefleet.contract.names import DEAD_LETTER_KEY, UNKNOWN_RUNS_KEY, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import dead_letter
from parsefleet.plumbing.broker import celery_config
from parsefleet.plumbing.migrations import migrate, on_database, scratch_database
from parsefleet.plumbing.outbox import Kept, Outbox, send
from parsefleet.producer.submission import blob_hash
from parsefleet.services.local_workers import LocalWorkers
from tests.accounting import many_files
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(300)]

_NO_WAIT = commands.RunOptions(ci=False, progress=False, wait=False)


@pytest.fixture
def other_database(postgres_server_url: str) -> Iterator[str]:
    """A second migrated database on the same server: the one a misconfigured worker points at."""
    with scratch_database(postgres_server_url, "parsefleet_other") as url:
        yield url


@pytest.fixture
def empty_database(postgres_server_url: str) -> Iterator[str]:
    """A database without any parsefleet schema."""
    name = f"parsefleet_empty_{uuid.uuid4().hex[:10]}"
    admin = on_database(postgres_server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield on_database(postgres_server_url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _log(tmp_path: Path) -> str:
    return (tmp_path / "logs" / "worker-0.log").read_text(errors="replace")


def _env(settings: Settings) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    urls = {"PARSEFLEET_REDIS_URL": settings.redis_url or "", "PARSEFLEET_DATABASE_URL": settings.database_url or ""}
    return {**clean, **urls}


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "parsefleet.cli.main", *args]
    return subprocess.run(command, env=_env(settings), capture_output=True, text=True, timeout=120, check=False)


def test_a_statement_a_release_broke_dead_letters_its_batches_instead_of_retrying(
    settings: Settings, tmp_path: Path, other_database: str, clean_redis: redis.Redis
) -> None:
    with psycopg.connect(other_database, autocommit=True) as conn:  # a release whose SQL names a column no more
        conn.execute("ALTER TABLE blobs RENAME COLUMN unexpanded_macros TO macros_left")
    broken = replace(settings, database_url=other_database)
    fleet = LocalWorkers(broken.redis_url or "", other_database, tmp_path / "logs", count=1)
    fleet.start()
    try:
        report = commands.submit(broken, [many_files(tmp_path / "repo", 3)], _NO_WAIT)
        total = report.state.batches_total or 0
        wait_until(lambda: clean_redis.llen(DEAD_LETTER_KEY) == total, "every batch dead-lettered", 90)
    finally:
        fleet.stop()
    assert total >= 1
    reasons = {entry.reason for entry in dead_letter.entries(clean_redis)}
    assert len(reasons) == 1 and 'column "unexpanded_macros"' in reasons.pop()
    assert "store unavailable" not in _log(tmp_path)  # refused at once, never retried as an outage


def _batch_of_new_run() -> Batch:
    content = b"def lone():\n    return 1\n"
    run_id = str(uuid.uuid4())
    ref = FileRef(1, "lone.py", blob_hash(content), "python", len(content))
    return Batch(f"{run_id}:000001", run_id, "python", (BatchFile(ref, content),))


def _send(settings: Settings, client: redis.Redis, batch: Batch) -> None:
    sender = Celery("test-sender", set_as_current=False)
    sender.conf.update(celery_config(settings, settings.redis_url or ""))
    kept = Kept(batch.batch_id, queue_for(batch.language), encode_batch(batch), batch.size_bytes)
    Outbox(client).keep(kept)
    send(sender, kept)
    sender.close()


def test_a_database_without_the_schema_is_an_outage_that_says_to_migrate(
    settings: Settings, tmp_path: Path, empty_database: str, clean_redis: redis.Redis
) -> None:
    fleet = LocalWorkers(settings.redis_url or "", empty_database, tmp_path / "logs", count=1)
    fleet.start()
    try:
        batch = _batch_of_new_run()
        _send(settings, clean_redis, batch)
        advice = "has no parsefleet schema; run `parsefleet db migrate`"
        wait_until(lambda: _log(tmp_path).count(advice) >= 2, "two retries saying to migrate", 60)
        assert clean_redis.llen(DEAD_LETTER_KEY) == 0  # kept, not dropped
        migrate(empty_database)
        with psycopg.connect(empty_database, autocommit=True) as conn:
            conn.execute("INSERT INTO runs (id, targets) VALUES (%s, %s)", (batch.run_id, ["/x"]))
            wait_until(
                lambda: conn.execute("SELECT parsed FROM batch_results").fetchall() == [(1,)],
                "the batch committed once migrated",
                90,
            )
    finally:
        fleet.stop()
    lines = [line for line in _log(tmp_path).splitlines() if advice in line]
    assert all("Traceback" not in line for line in lines)


def test_a_worker_on_another_database_refuses_batches_of_runs_it_does_not_know(
    settings: Settings, tmp_path: Path, other_database: str, clean_redis: redis.Redis
) -> None:
    assert settings.redis_url and settings.database_url
    env = {"PARSEFLEET_UNKNOWN_RUN_WAIT_S": "15"}
    lost = LocalWorkers(settings.redis_url, other_database, tmp_path / "logs", count=1, env=env)
    lost.start()
    submit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parsefleet.cli.main",
            "submit",
            "--wait",
            "--no-progress",
            str(many_files(tmp_path / "repo", 3)),
        ],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert submit.stderr is not None
        notice = next(line for line in submit.stderr if "refuses batches of run" in line)  # submit --wait says why
        submit.send_signal(signal.SIGINT)  # stop waiting; the run goes on
        assert submit.wait(timeout=60) != 0
        with psycopg.connect(settings.database_url) as conn:
            run_id, total = conn.execute("SELECT id::text, batches_total FROM runs").fetchone() or ("", 0)
        status = _cli(["status"], settings)
        wait_until(lambda: clean_redis.llen(DEAD_LETTER_KEY) == total, "the refused batches dead-lettered", 120)
    finally:
        submit.kill()
        lost.stop()
    assert f"run {run_id}: its database (" in notice and "does not know the run" in notice
    assert status.returncode == 0, status.stderr
    assert "batches of runs unknown to a worker's database:" in status.stdout
    assert f"run {run_id} refused" in status.stdout
    with psycopg.connect(other_database) as conn:
        assert conn.execute("SELECT count(*) FROM batch_results").fetchone() == (0,)  # nothing committed there
    assert clean_redis.hlen(UNKNOWN_RUNS_KEY) == 0
    reasons = [entry.reason for entry in dead_letter.entries(clean_redis)]
    assert all(f"run {run_id} is unknown to PostgreSQL" in reason for reason in reasons)
    assert "is this worker pointed at its producer's database?" in _log(tmp_path)

    # Pointed at the right database, the fleet takes them back: nothing was lost
    right = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs-right", count=1)
    right.start()
    try:
        replayed = _cli(["dead-letter", "replay", "--all"], settings)
        assert replayed.returncode == 0, replayed.stderr
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            wait_until(
                lambda: conn.execute("SELECT finished_at IS NOT NULL FROM runs").fetchone() == (True,),
                "the run finished",
                90,
            )
            files = conn.execute("SELECT sum(files) FROM batch_results").fetchone()
    finally:
        right.stop()
    assert files == (3,)
