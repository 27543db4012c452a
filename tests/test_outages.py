"""Outages of the services a run depends on, against private Redis and PostgreSQL servers.

Each test runs a real run of a few thousand files through real worker processes, breaks a service
mid-run, and checks at the end that every file is accounted for exactly once (tests/accounting.py).
The machine's own Redis and PostgreSQL are never touched: tests/services.py starts others.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.cli import commands
from parsefleet.contract.names import PARENT_PID_ENV, QUEUES
from parsefleet.contract.settings import Settings
from parsefleet.reading.report import RunReport
from parsefleet.services.local_workers import LocalWorkers, worker_env
from tests.accounting import Figures, Watched, assert_exactly_once, many_files, wait_for_batches
from tests.conftest import unavailable
from tests.services import PostgresServer, RedisServer, WorkerHost, wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(300)]

_FILES = 3000
_VISIBILITY_TIMEOUT_S = 10


def _settings(redis_url: str, database_url: str, tmp_path: Path, **overrides: int) -> Settings:
    """Small batches and a short queue, so the producer is still sending when the fault hits."""
    chosen = {"batch_max_bytes": 32 * 1024, "max_pending_batches": 4, "visibility_timeout_s": _VISIBILITY_TIMEOUT_S}
    return Settings.from_env(
        {}, redis_url=redis_url, database_url=database_url, data_dir=tmp_path / "data", **{**chosen, **overrides}
    )


class _Run:
    """A submit --wait in a thread, with the worker trees probed for RSS and CPU."""

    def __init__(self, settings: Settings, repo: Path, worker_pids: list[int]) -> None:
        self.settings = settings
        self.report: RunReport | None = None
        self.error: BaseException | None = None
        self.worker_pids = worker_pids
        self.watched = Watched()
        self._thread = threading.Thread(target=self._submit, args=(repo,), name="submit", daemon=True)

    def _submit(self, repo: Path) -> None:
        try:
            self.report = commands.submit(
                self.settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True)
            )
        except BaseException as exc:
            self.error = exc
            raise

    def __enter__(self) -> _Run:
        self.watched.watch(self.worker_pids)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._thread.join(timeout=240)
        self.watched.stop_all()

    def summary(self, name: str, figures: Figures) -> str:
        """One line of figures for docs/reliability.md (pytest -s shows it)."""
        return self.watched.summary(name, figures)

    def finished(self) -> RunReport:
        """The report, once the submit has returned."""
        assert not self._thread.is_alive(), "the run did not finish within 240 s"
        assert self.error is None, f"submit failed: {self.error!r}"
        assert self.report is not None
        return self.report


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
    except (AssertionError, OSError) as exc:
        server.destroy()
        unavailable("a private PostgreSQL (initdb + pg_ctl)", exc)
    yield server
    server.destroy()


def _with_workers(settings: Settings, log_dir: Path, count: int = 1) -> LocalWorkers:
    assert settings.redis_url and settings.database_url
    env = {"PARSEFLEET_VISIBILITY_TIMEOUT_S": str(settings.visibility_timeout_s), "PARSEFLEET_LOG_LEVEL": "INFO"}
    fleet = LocalWorkers(settings.redis_url, settings.database_url, log_dir, count=count, env=env)
    fleet.start()
    return fleet


def _fault_after(database_url: str, batches: int, fault: Callable[[], None]) -> threading.Thread:
    """Run ``fault`` in a thread once ``batches`` batches are committed (mid-run, whatever the speed)."""

    def act() -> None:
        wait_for_batches(database_url, batches)
        fault()

    thread = threading.Thread(target=act, name="fault")
    thread.start()
    return thread


def _start_guest_worker(host: WorkerHost, settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """A Celery worker inside the namespace, on the host side's Redis and PostgreSQL.

    A slow host: its CPU governor (20%) pauses it after each batch, before the batch is
    acknowledged, so it holds batches most of the time, as a loaded host does.
    """
    assert settings.redis_url and settings.database_url
    env = {
        **worker_env(settings.redis_url, settings.database_url),
        PARENT_PID_ENV: str(os.getpid()),
        "PARSEFLEET_VISIBILITY_TIMEOUT_S": str(settings.visibility_timeout_s),
        "PARSEFLEET_CPU_LIMIT_PCT": "20",
    }
    command = host.command(
        sys.executable, "-m", "celery", "-A", "parsefleet.workers.app", "worker", "--queues", ",".join(QUEUES.values()),
        "--hostname", "parsefleet-guest@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    )  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output)


def _held_batches(redis_url: str, database_url: str) -> set[str]:
    """Task ids (= batch ids) of the batches Redis holds as delivered and unacknowledged (kombu's
    ``unacked``) that have no result in the database yet."""
    client = redis.Redis.from_url(redis_url)
    try:
        held = {json.loads(raw)[0]["headers"]["id"] for raw in client.hvals("unacked")}
    finally:
        client.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT batch_id FROM batch_results WHERE batch_id = ANY(%s)", (sorted(held),))
        done = {row[0] for row in rows}
    return held - done


def _fault_after_guest_commits(
    settings: Settings, batches: int, fault: Callable[[], set[str]], held: set[str]
) -> threading.Thread:
    """Run ``fault`` once the guest worker, the only one running, has committed ``batches``
    batches and holds one it has not committed; ``fault`` returns the task ids it held.

    So that the guest surely holds such a batch at the cut, the test locks ``batch_results``
    against writes first: the guest's next claim waits, its batch in hand, until the cut.
    """
    assert settings.redis_url and settings.database_url
    redis_url, database_url = settings.redis_url, settings.database_url

    def guest_committed() -> bool:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM batch_results WHERE worker LIKE 'parsefleet-guest@%'").fetchone()
        return row is not None and row[0] >= batches

    def act() -> None:
        wait_until(guest_committed, f"{batches} batches committed by the guest worker", 120)
        with psycopg.connect(database_url) as locker:
            locker.execute("LOCK TABLE batch_results IN EXCLUSIVE MODE")  # reads go on, writes wait
            wait_until(lambda: bool(_held_batches(redis_url, database_url)), "a batch in the guest's hands", 60)
            held.update(fault())
            locker.rollback()

    thread = threading.Thread(target=act, name="fault")
    thread.start()
    return thread


def test_redis_restarted_mid_run_loses_nothing(clean_db: str, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    repo = many_files(tmp_path / "repo", _FILES)
    settings = _settings(server.url, clean_db, tmp_path)
    fleet = _with_workers(settings, tmp_path / "logs")
    outage: dict[str, float] = {}

    def restart() -> None:
        outage["down_at_epoch_s"] = time.time()
        server.shutdown()  # SHUTDOWN: the append-only file is written, then the server exits
        threading.Event().wait(3)  # the outage lasts 3 s
        server.start()
        outage["back_at_epoch_s"] = time.time()

    try:
        with _Run(settings, repo, [process.pid for process in fleet.processes]) as run:
            fault = _fault_after(clean_db, 10, restart)
            fault.join(timeout=120)
        report = run.finished()
    finally:
        fleet.stop()
        server.kill()
    figures = assert_exactly_once(clean_db, report, _FILES)
    with psycopg.connect(clean_db) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM submitted_at), (SELECT count(*) FROM batch_results"
            " WHERE finished_at > to_timestamp(%s)) FROM runs",
            (outage["back_at_epoch_s"],),
        ).fetchone()
    assert row is not None
    assert float(row[0]) > outage["back_at_epoch_s"], "the producer had finished sending before Redis went down"
    assert row[1] > 0, "no batch was committed after the restart"
    print(run.summary("redis restart", figures) + f", {row[1]} batches committed after the restart")


def _submitted(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM runs WHERE submitted_at IS NOT NULL").fetchone() is not None


def test_postgres_stopped_for_30_s_mid_run_loses_nothing(
    private_postgres: PostgresServer, redis_url: str, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    database_url = private_postgres.create_database("parsefleet")
    repo = many_files(tmp_path / "repo", _FILES)
    # A short queue holds the producer back, so it is still sending (and writing its records) when
    # PostgreSQL goes: the producer, the workers and the waiting `submit --wait` all ride it out.
    settings = _settings(redis_url, database_url, tmp_path, visibility_timeout_s=300)
    fleet = _with_workers(settings, tmp_path / "logs")
    outage: dict[str, float] = {}

    def stop_for_30_s() -> None:
        assert not _submitted(database_url), "the producer had finished sending before PostgreSQL went"
        outage["stopped_at_s"] = time.monotonic()
        private_postgres.stop()
        threading.Event().wait(30)  # the fault's duration
        private_postgres.start()
        outage["started_at_s"] = time.monotonic()
        outage["back_at_epoch_s"] = time.time()

    try:
        with _Run(settings, repo, [process.pid for process in fleet.processes]) as run:
            fault = _fault_after(database_url, 10, stop_for_30_s)
            fault.join(timeout=180)
        report = run.finished()
    finally:
        fleet.stop()
    assert outage["started_at_s"] - outage["stopped_at_s"] >= 30
    figures = assert_exactly_once(database_url, report, _FILES)
    with psycopg.connect(database_url) as conn:
        after = conn.execute(
            "SELECT count(*) FROM batch_results WHERE finished_at > to_timestamp(%s)", (outage["back_at_epoch_s"],)
        ).fetchone()
        submitted = conn.execute("SELECT extract(epoch FROM submitted_at) FROM runs").fetchone()
    assert after is not None and after[0] > 0, "no batch was committed after PostgreSQL came back"
    assert submitted is not None and float(str(submitted[0])) > outage["back_at_epoch_s"]
    retries = (tmp_path / "logs" / "worker-0.log").read_text().count("store unavailable, retry in")
    print(run.summary("postgres stopped 30 s", figures) + f", {retries} batch retries while it was down")


@pytest.fixture
def worker_host() -> Iterator[WorkerHost]:
    host = WorkerHost()
    try:
        host.create()
    except OSError as exc:
        host.destroy()
        unavailable("ip netns (a network namespace and a veth pair; needs root)", exc)
    try:
        yield host
    finally:
        host.destroy()


def _task_ids(log: Path, event: str) -> set[str]:
    """Task ids the worker logged as ``received`` or ``succeeded``."""
    return set(re.findall(rf"parse_batch\[([^\]]+)\] {event}", log.read_text()))


@pytest.fixture
def host_side(worker_host: WorkerHost, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Redis and PostgreSQL of their own, listening on the host side of the veth only: their URLs."""
    # not on loopback, so Redis wants a password (protected mode), as it would between hosts
    redis_server = RedisServer(tmp_path / "redis", host=worker_host.host_ip, password=os.urandom(8).hex())
    postgres = PostgresServer(listen=(worker_host.host_ip,))
    try:
        redis_server.start()
        postgres.init()
        database_url = postgres.create_database("parsefleet")
    except (AssertionError, OSError) as exc:
        redis_server.kill()
        postgres.destroy()
        unavailable("a private Redis and PostgreSQL on the veth address", exc)
    try:
        yield redis_server.url, database_url
    finally:
        redis_server.kill()
        postgres.destroy()


def test_a_worker_host_cut_off_mid_run_has_its_batches_redelivered(
    worker_host: WorkerHost, host_side: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, database_url = host_side
    settings = _settings(redis_url, database_url, tmp_path, max_pending_batches=16)
    repo = many_files(tmp_path / "repo", _FILES)
    guest_log = tmp_path / "guest.log"
    guest = _start_guest_worker(worker_host, settings, guest_log)
    host_workers: list[LocalWorkers] = []
    held: set[str] = set()

    def cut_then_start_the_other() -> set[str]:
        # The other worker starts only once the guest is cut off: before, it could take every
        # batch while the slow guest started, and the cut would find nothing to redeliver. What
        # Redis holds as unacknowledged and uncommitted after the cut is the guest's, and the run
        # cannot finish unless it comes back to the other worker.
        worker_host.cut()
        cut_off = _held_batches(redis_url, database_url)
        host_workers.append(_with_workers(settings, tmp_path / "logs"))
        return cut_off

    try:
        with _Run(settings, repo, [guest.pid]) as run:
            fault = _fault_after_guest_commits(settings, 5, cut_then_start_the_other, held)
            fault.join(timeout=120)
        report = run.finished()
    finally:
        guest.kill()
        guest.wait()
        for fleet in host_workers:
            fleet.stop()
    figures = assert_exactly_once(database_url, report, _FILES)
    host_log = tmp_path / "logs" / "worker-0.log"
    assert held, "the guest held no uncommitted batch when it was cut off"
    assert held <= _task_ids(host_log, "succeeded"), "a batch held by the cut-off worker never reached the other"
    redelivered = held
    print(run.summary("worker host cut off", figures) + f", {len(redelivered)} batches redelivered to the other")
