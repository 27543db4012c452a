"""Several worker hosts: each in its own network namespace with its own veth (tests/services.py
WorkerHost), all on one Redis and one PostgreSQL on the host side, each worker capped by its own CPU
governor and memory settings.

A run of a few thousand real files (CPython's standard library) starts on one host; a second and a
third join mid-run; one is drained with SIGTERM; one is cut off (link down) and its batches come
back (outbox + visibility timeout); the last one leaves. Every file is accounted for exactly once,
and `parsefleet status` showed each change, each time measured from the change to the start of the
first status read that showed it.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from parsefleet.cli import commands
from parsefleet.cli import fleet as fleet_commands
from parsefleet.contract.names import PARENT_PID_ENV
from parsefleet.contract.settings import Settings
from parsefleet.reading.report import RunReport
from parsefleet.services.local_workers import worker_env
from tests.accounting import assert_exactly_once, wait_for_batches
from tests.conftest import unavailable
from tests.services import PostgresServer, RedisServer, WorkerHost, wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(600)]

_FILES = 2000
_HEARTBEAT_S = 1.0
# Real code: this Python's standard library, then the packages installed beside parsefleet.
_SOURCES = (Path(os.__file__).parent, Path(sysconfig.get_paths()["purelib"]))
_LEFT_OUT = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "vendor", "third_party"}
# Each host's worker: one pool process held to 5% of the machine's CPUs by its governor (a slow
# host, so that the run lasts while hosts come and go), within 448 MB.
_CAPS = {
    "PARSEFLEET_WORKER_CONCURRENCY": "1",
    "PARSEFLEET_CPU_LIMIT_PCT": "5",
    "PARSEFLEET_MAX_MEMORY_MB": "448",
    "PARSEFLEET_HEARTBEAT_S": str(_HEARTBEAT_S),
    "PARSEFLEET_VISIBILITY_TIMEOUT_S": "10",
    "PARSEFLEET_LOG_LEVEL": "INFO",  # a line per batch received and succeeded: what the cut host held
}


def real_files(root: Path, count: int) -> Path:
    """``count`` distinct Python files of 0.5-24 KiB from this Python's standard library and installed
    packages (no tests, nothing the producer would skip), copied flat under ``root``."""
    root.mkdir()
    seen: set[bytes] = set()
    for source in _SOURCES:
        for path in sorted(source.rglob("*.py")):
            content = path.read_bytes()
            if set(path.relative_to(source).parts) & _LEFT_OUT or not 512 <= len(content) <= 24 * 1024:
                continue
            digest = hashlib.sha256(content).digest()
            if digest in seen or b"DO NOT EDIT" in content[:4096]:
                continue
            seen.add(digest)
            (root / f"f{len(seen):05d}_{path.name}").write_bytes(content)
            if len(seen) == count:
                return root
    raise AssertionError(f"only {len(seen)} usable files in {', '.join(map(str, _SOURCES))}")


@pytest.fixture
def hosts() -> Iterator[list[WorkerHost]]:
    made: list[WorkerHost] = []
    try:
        for _ in range(3):
            host = WorkerHost()
            made.append(host)
            host.create()
    except OSError as exc:
        for host in made:
            host.destroy()
        unavailable("ip netns (network namespaces and veth pairs; needs root)", exc)
    try:
        yield made
    finally:
        for host in made:
            host.destroy()


@pytest.fixture
def services(hosts: list[WorkerHost], tmp_path: Path) -> Iterator[tuple[RedisServer, str]]:
    """One Redis and one PostgreSQL on the host side, listening on every host's veth address."""
    addresses = tuple(host.host_ip for host in hosts)
    redis_server = RedisServer(
        tmp_path / "redis", host=addresses[0], also_bind=addresses[1:], password=os.urandom(8).hex()
    )
    postgres = PostgresServer(listen=addresses)
    try:
        redis_server.start()
        postgres.init()
        database_url = postgres.create_database("parsefleet")
    except (AssertionError, OSError) as exc:
        redis_server.kill()
        postgres.destroy()
        unavailable("a private Redis and PostgreSQL on the veth addresses", exc)
    try:
        yield redis_server, database_url
    finally:
        redis_server.kill()
        postgres.destroy()


class _Fleet:
    """The worker of each host, started inside its namespace on that host's side of its veth."""

    def __init__(self, hosts: list[WorkerHost], redis_server: RedisServer, database_url: str, logs: Path) -> None:
        self.hosts, self.redis_server, self.database_url, self.logs = hosts, redis_server, database_url, logs
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        logs.mkdir()

    def url_for(self, index: int) -> tuple[str, str]:
        """The Redis and PostgreSQL URLs as host ``index`` reaches them (its veth's far side)."""
        host_ip, first_ip = self.hosts[index].host_ip, self.hosts[0].host_ip
        return self.redis_server.url.replace(first_ip, host_ip), self.database_url.replace(first_ip, host_ip)

    def start(self, index: int) -> None:
        redis_url, database_url = self.url_for(index)
        env = {**worker_env(redis_url, database_url), PARENT_PID_ENV: str(os.getpid()), **_CAPS}
        command = self.hosts[index].command(
            sys.executable, "-P", "-m", "parsefleet.workers", "--hostname", f"host{index}@%h",
            "--without-gossip", "--without-mingle",
        )  # fmt: skip
        with (self.logs / f"host{index}.log").open("ab") as log:
            self.processes[index] = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


class _Observer:
    """Reads `parsefleet status` (the real code, from the host side) until each expected change shows,
    and records how long after the change it showed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.delays: dict[str, float] = {}

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = fleet_commands.status(self.settings, 3).as_dict()
        return found

    def shows(self, change: str, since: float, condition: Callable[[dict[str, Any]], bool], timeout_s: float) -> None:
        """Wait until a status read shows ``change``; record when that read started, after ``since``."""
        started: list[float] = []

        def read() -> bool:
            started.append(time.monotonic())
            return condition(self.status())

        wait_until(read, f"status showing {change}", timeout_s)
        self.delays[change] = max(0.0, started[-1] - since)


def _node(found: dict[str, Any], index: int) -> dict[str, Any] | None:
    return next((w for w in found["workers"] if w["node"].startswith(f"host{index}@")), None)


def _gone(found: dict[str, Any], index: int) -> dict[str, Any] | None:
    return next((w for w in found["gone"] if w["node"].startswith(f"host{index}@")), None)


_STOPPED_BEATING = "heartbeat stopped: killed, hung or cut off"


def _state(found: dict[str, Any], index: int) -> str | None:
    """A host's worker as status shows it: its state (``late`` when a beat is overdue), or how it went."""
    alive, gone = _node(found, index), _gone(found, index)
    if alive is not None:
        return "late" if alive["late"] else str(alive["state"])
    return None if gone is None else str(gone["how"])


def _holding(found: dict[str, Any], index: int, since_s: float) -> bool:
    """The host's worker holds a batch, by a beat written after ``since_s`` (not an older one)."""
    alive = _node(found, index)
    if alive is None or not alive["active"]:
        return False
    return datetime.fromisoformat(str(alive["beat_at"])).timestamp() > since_s


def _parsing(found: dict[str, Any], indexes: tuple[int, ...]) -> bool:
    return all((_node(found, index) or {}).get("batches_done", 0) > 0 for index in indexes)


def test_hosts_join_drain_get_cut_off_and_leave_with_every_file_once(
    hosts: list[WorkerHost], services: tuple[RedisServer, str], tmp_path: Path
) -> None:
    redis_server, database_url = services
    settings = Settings.from_env(
        {},
        redis_url=redis_server.url,
        database_url=database_url,
        data_dir=tmp_path / "data",
        batch_max_bytes=32 * 1024,
        max_pending_batches=16,
        heartbeat_s=_HEARTBEAT_S,
        worker_gone_keep_s=3600.0,
    )
    repo = real_files(tmp_path / "repo", _FILES)
    fleet = _Fleet(hosts, redis_server, database_url, tmp_path / "logs")
    observer = _Observer(settings)
    result: dict[str, RunReport] = {}

    def submit() -> None:
        result["report"] = commands.submit(settings, [repo], commands.RunOptions(progress=False, wait=True))

    run = threading.Thread(target=submit, daemon=True)
    try:
        fleet.start(0)
        observer.shows("host0 joins", time.monotonic(), lambda s: _node(s, 0) is not None, 60)
        run.start()
        wait_for_batches(database_url, 5)
        joined = time.monotonic()
        fleet.start(1)
        fleet.start(2)
        observer.shows("host1 and host2 join", joined, lambda s: bool(_node(s, 1) and _node(s, 2)), 60)
        wait_until(lambda: _parsing(observer.status(), (1, 2)), "host1 and host2 parsing", 120)

        drained = time.monotonic()
        fleet.processes[1].send_signal(signal.SIGTERM)
        observer.shows("host1 draining", drained, lambda s: _state(s, 1) in {"draining", "stopped (drained)"}, 30)
        assert fleet.processes[1].wait(timeout=120) == 0
        exited = time.monotonic()
        observer.shows("host1 drained", exited, lambda s: _state(s, 1) == "stopped (drained)", 10)

        # So that the cut host surely holds a batch, commits wait on a lock until it is cut off.
        with psycopg.connect(database_url) as locker:
            locker.execute("LOCK TABLE batch_results IN EXCLUSIVE MODE")  # reads go on, writes wait
            locked_at = time.time()
            wait_until(lambda: _holding(observer.status(), 2, locked_at), "host2 holding a batch", 60)
            cut = time.monotonic()
            hosts[2].cut()
            locker.rollback()
        observer.shows("host2 late (cut)", cut, lambda s: _state(s, 2) in {"late", _STOPPED_BEATING}, 30)
        observer.shows("host2 gone (cut)", cut, lambda s: _state(s, 2) == _STOPPED_BEATING, 30)
        fleet.processes[2].kill()  # cut off for good: its batches are the other hosts' now

        run.join(timeout=400)
        assert not run.is_alive(), "the run did not finish"
        fleet.processes[0].send_signal(signal.SIGTERM)
        assert fleet.processes[0].wait(timeout=120) == 0
        left = time.monotonic()
        observer.shows("the last host left", left, lambda s: s["workers"] == [] and _gone(s, 0) is not None, 10)
        final = observer.status()
    finally:
        fleet.stop_all()
    report = result["report"]
    python = next(item for item in report.languages if item.language == "python")
    figures = assert_exactly_once(database_url, report, _FILES, failed=python.failed)
    with psycopg.connect(database_url) as conn:
        per_host = dict(
            conn.execute(
                "SELECT split_part(worker, '@', 1), count(*) FROM batch_results WHERE files > 0 GROUP BY 1"
            ).fetchall()
        )
    assert set(per_host) == {"host0", "host1", "host2"}, per_host
    log = (tmp_path / "logs" / "host2.log").read_text()
    held = set(re.findall(r"parse_batch\[([^\]]+)\] received", log)) - set(
        re.findall(r"parse_batch\[([^\]]+)\] succeeded", log)
    )
    with psycopg.connect(database_url) as conn:
        taken_over = conn.execute(
            "SELECT count(*) FROM batch_results WHERE batch_id = ANY(%s) AND worker NOT LIKE 'host2@%%'",
            (sorted(held),),
        ).fetchone()
    assert held and taken_over == (len(held),), (held, taken_over)  # what the cut host held came back
    assert {item["how"] for item in final["gone"]} >= {"stopped (drained)", _STOPPED_BEATING}
    # A worker's start takes seconds before its first beat; a drain and a leave show within a
    # heartbeat (the worker beats at once on SIGTERM, and its last beat as it exits); a cut shows as
    # "late" once a beat is half a period overdue, and as gone when its key expires (three periods).
    bounds = {"join": 30.0, "cut": 3 * _HEARTBEAT_S + 1.5}
    for change, delay in observer.delays.items():
        kind = "join" if "join" in change else "cut" if "cut" in change else "beat"
        assert delay <= bounds.get(kind, _HEARTBEAT_S + 1.0), (change, delay)
    print(
        f"hosts: {figures.files} files, {len(held)} batches held by the cut host committed by another, per host"
        f" {per_host}; status delays "
        + ", ".join(f"{change} {delay:.1f} s" for change, delay in observer.delays.items())
    )
