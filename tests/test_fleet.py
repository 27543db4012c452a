"""Operating the fleet with real worker processes: heartbeats and `parsefleet status`, pause and
resume, a drain by SIGTERM, the watchdog on a worker that stops consuming, scaling advice exported
to statsd and Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from parsefleet.cli import commands
from parsefleet.cli import fleet as cli_fleet
from parsefleet.contract.names import ADVISED_WORKERS_KEY, QUEUES
from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers
from tests.accounting import assert_exactly_once, many_files, wait_for_batches
from tests.services import RedisServer, wait_until

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]
# Fast beats so that a test sees each change within a second or two.
BEAT_ENV = {"PARSEFLEET_HEARTBEAT_S": "0.5", "PARSEFLEET_WORKER_STALL_S": "4"}


def _cli(args: list[str], settings: Settings, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PARSEFLEET_REDIS_URL": settings.redis_url or "",
        "PARSEFLEET_DATABASE_URL": settings.database_url or "",
        "PARSEFLEET_DATA_DIR": str(settings.data_dir),
        **BEAT_ENV,
        **extra,
    }
    return subprocess.run([*PARSEFLEET, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _status(settings: Settings) -> dict[str, Any]:
    done = _cli(["status", "--json"], settings)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _status_here(settings: Settings) -> dict[str, Any]:
    """What `parsefleet status --json` prints, read in this process."""
    found: dict[str, Any] = json.loads(json.dumps(cli_fleet.status(settings, 5).as_dict()))
    return found


def _workers(settings: Settings, log_dir: Path, count: int = 1, **env: str) -> LocalWorkers:
    assert settings.redis_url and settings.database_url
    fleet = LocalWorkers(settings.redis_url, settings.database_url, log_dir, count=count, env={**BEAT_ENV, **env})
    fleet.start()
    return fleet


def _submit(settings: Settings, repo: Path) -> str:
    report = commands.submit(settings, [repo], commands.RunOptions(progress=False, wait=False))
    return report.state.run_id


def _wait_run(database_url: str, run_id: str, timeout_s: float = 180) -> None:
    def finished() -> bool:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT finished_at IS NOT NULL FROM runs WHERE id = %s", (run_id,)).fetchone()
        return bool(row and row[0])

    wait_until(finished, f"run {run_id} finished", timeout_s)


def test_status_shows_backlog_workers_and_runs_and_pause_holds_intake(settings: Settings, tmp_path: Path) -> None:
    assert settings.redis_url and settings.database_url
    small = Settings.from_env(
        {}, redis_url=settings.redis_url, database_url=settings.database_url, batch_max_bytes=16 * 1024
    )
    fleet = _workers(settings, tmp_path / "logs")
    pid = fleet.processes[0].pid
    try:
        wait_until(lambda: len(_status(settings)["workers"]) == 1, "the worker's first heartbeat", 60)
        paused = _cli(["pause"], settings)
        assert paused.returncode == 0 and "fleet paused" in paused.stdout, paused.stderr
        wait_until(lambda: _status(settings)["workers"][0]["state"] == "paused", "the worker paused", 30)
        run_id = _submit(small, many_files(tmp_path / "repo", 300))
        held = _status(settings)
        python = held["queues"]["python"]
        assert held["paused"] is not None and held["paused"]["by"]
        assert python["waiting"] > 1 and python["waiting_bytes"] > 100_000 and python["oldest_age_s"] >= 0
        assert python["unsized"] == 0 and python["outstanding"] == python["waiting"]
        assert held["runs_in_flight"][0]["run_id"] == run_id and held["runs_in_flight"][0]["bytes_done"] == 0
        text = _cli(["status"], settings).stdout
        assert "fleet PAUSED" in text and "paused" in text and run_id in text
        assert "batches sized for 50 ms of parse from the measured rate: no rate measured yet" in text
        resumed = _cli(["resume"], settings)
        assert resumed.returncode == 0 and "fleet resumed" in resumed.stdout
        _wait_run(settings.database_url, run_id)
        wait_until(lambda: _status(settings)["workers"][0]["batches_done"] > 1, "batches counted in the beat", 30)
        after = _status(settings)
    finally:
        fleet.stop()
    worker = after["workers"][0]
    assert after["paused"] is None and after["queues"]["python"]["waiting"] == 0
    assert worker["host"] == socket.gethostname() and worker["pid"] == pid and worker["worker_id"].endswith(f":{pid}")
    assert worker["state"] == "running" and worker["concurrency"] >= 1 and worker["rss_bytes"] > 20_000_000
    assert worker["cpu_share_1m"] > 0 and worker["last_batch_at"] is not None
    assert worker["languages"]["python"]["parse_bytes_per_s"] > 10_000
    assert worker["languages"]["python"]["source_bytes"] > 100_000
    rate = after["parse_rates"]["python@default"]  # the estimate the next run's batches are sized from
    assert rate["batches"] == worker["languages"]["python"]["batches"] and rate["bytes_per_s"] > 10_000
    assert after["batch_target_ms"] == 50
    gone = _status(settings)
    assert gone["workers"] == [] and gone["gone"][0]["how"] == "stopped (drained)"
    assert gone["gone"][0]["exit_code"] == 0


def test_sigterm_drains_a_worker_mid_run_without_loss(settings: Settings, tmp_path: Path) -> None:
    """SIGTERM to a worker holding a batch: status shows it draining, it commits that batch, exits 0,
    and status says it drained; another worker finishes the run; every file is accounted once.

    So that the worker surely holds a batch at the signal, batch_results is locked against writes:
    its next commit waits, batch in hand, until the lock is released after the SIGTERM."""
    assert settings.redis_url and settings.database_url
    small = Settings.from_env(
        {}, redis_url=settings.redis_url, database_url=settings.database_url, batch_max_bytes=16 * 1024
    )
    first = _workers(settings, tmp_path / "logs-1")
    run_id = _submit(small, many_files(tmp_path / "repo", 600))
    process = first.processes[0]
    wait_for_batches(settings.database_url, 3)
    with psycopg.connect(settings.database_url) as locker:
        locker.execute("LOCK TABLE batch_results IN EXCLUSIVE MODE")  # reads go on, writes wait
        wait_until(lambda: _status(settings)["workers"][0]["active"] > 0, "the worker holding a batch", 60)
        worker_id = _status(settings)["workers"][0]["worker_id"]
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: _status(settings)["workers"][0]["state"] == "draining", "shown draining", 30)
        assert process.poll() is None  # still finishing its batch
        locker.rollback()
    assert process.wait(timeout=60) == 0
    first.processes.clear()
    gone = _status(settings)["gone"]
    assert [item["how"] for item in gone if item["worker_id"] == worker_id] == ["stopped (drained)"]
    second = _workers(settings, tmp_path / "logs-2")
    try:
        _wait_run(settings.database_url, run_id)
    finally:
        second.stop()
    report = commands.report(settings, run_id)
    assert redis.Redis.from_url(settings.redis_url).hlen("unacked") == 0
    figures = assert_exactly_once(settings.database_url, report, 600)
    assert figures.redeliveries == 0  # the drained batch was committed, not handed out again


def test_scale_advice_from_measured_rates_is_exported_to_statsd_and_redis(
    settings: Settings, tmp_path: Path, statsd_server: socket.socket
) -> None:
    assert settings.redis_url and settings.database_url
    small = Settings.from_env(
        {}, redis_url=settings.redis_url, database_url=settings.database_url, batch_max_bytes=16 * 1024
    )
    host, port = statsd_server.getsockname()
    fleet = _workers(settings, tmp_path / "logs", PARSEFLEET_STATSD_ADDR=f"{host}:{port}")
    try:
        _wait_run(settings.database_url, _submit(small, many_files(tmp_path / "warm", 100)))
        wait_until(lambda: _status(settings)["workers"][0]["batches_done"] > 1, "rates measured", 30)
        assert _cli(["pause"], settings).returncode == 0
        wait_until(lambda: _status(settings)["workers"][0]["state"] == "paused", "the worker paused", 30)
        _submit(small, many_files(tmp_path / "backlog", 400))
        advice = _cli(["scale", "advise", "--drain-within", "1s", "--json"], settings)
        relaxed = _cli(["scale", "advise", "--drain-within", "2h", "--export"], settings)
        seen = _gauges(statsd_server, "parsefleet_advised_workers", 1)
    finally:
        _cli(["resume"], settings)
        fleet.stop()
    found = json.loads(advice.stdout)
    rate = found["bytes_per_process_s"]["python"]
    work = found["backlog_bytes"]["python"] / rate
    slots = found["worker_size"]["concurrency"] * min(1.0, found["worker_size"]["slot_share"])
    assert found["assumed"] == {} and rate > 10_000
    assert abs(found["work_s"]["python"] - work) < 1e-6
    assert found["workers"] == max(1, -(-work // (1 * slots)))  # ceil(work / (target x slots))
    assert relaxed.returncode == 0 and "-> 1 worker" in relaxed.stdout and "exported: 1" in relaxed.stdout
    assert "1" in seen  # the CLI's export, or the fleet's own sample of the same figure


def _gauges(server: socket.socket, name: str, count: int) -> list[str]:
    """Values of the first ``count`` statsd gauge lines named ``name``."""
    values: list[str] = []
    while len(values) < count:
        packet = server.recv(65535).decode()
        values += [line.split(":", 1)[1].split("|")[0] for line in packet.splitlines() if line.startswith(name + ":")]
    return values


def test_the_fleet_publishes_the_advice_and_samples_itself(settings: Settings, tmp_path: Path) -> None:
    assert settings.redis_url and settings.database_url
    fleet = _workers(settings, tmp_path / "logs")
    client = redis.Redis.from_url(settings.redis_url)
    try:
        wait_until(lambda: client.get(ADVISED_WORKERS_KEY) is not None, "the advice published", 30)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            wait_until(
                lambda: (
                    (conn.execute("SELECT count(DISTINCT language) FROM fleet_samples").fetchone() or (0,))[0]
                    == len(QUEUES)
                ),
                "a fleet sample per language",
                30,
            )
            row = conn.execute("SELECT max(workers_alive), bool_or(paused) FROM fleet_samples").fetchone()
    finally:
        fleet.stop()
        client.close()
    assert client is not None and row == (1, False)


def _stop_consuming(settings: Settings) -> None:
    """Cancel every queue consumer of every worker behind parsefleet's back (Celery's remote control):
    the workers stay up and beat, but take nothing, as after a lost consumer."""
    from celery import Celery

    from parsefleet.plumbing.broker import celery_config

    assert settings.redis_url
    app = Celery("parsefleet-test-control", set_as_current=False)
    app.conf.update(celery_config(settings, settings.redis_url))
    try:
        for queue in QUEUES.values():  # until the worker answers: its control queue may not be bound yet
            wait_until(lambda q=queue: bool(app.control.cancel_consumer(q, reply=True, timeout=1)), "cancelled", 30)
    finally:
        app.close()


def test_watchdog_ends_a_worker_that_stops_consuming_and_its_replacement_finishes(
    settings: Settings, tmp_path: Path
) -> None:
    assert settings.redis_url and settings.database_url
    stuck = _workers(settings, tmp_path / "logs-1")
    wait_until(lambda: len(_status(settings)["workers"]) == 1, "the worker's first heartbeat", 60)
    _stop_consuming(settings)
    run_id = _submit(settings, many_files(tmp_path / "repo", 200))
    process = stuck.processes[0]
    seen: list[dict[str, Any]] = []

    def stalled() -> bool:  # read in this process: the worker is shown stalled for one heartbeat
        found = _status_here(settings)
        seen.append(found)
        return bool(found["stalled"])

    wait_until(stalled, "the worker shown stalled", 30)
    assert "restart" in seen[-1]["stalled"][0]["advice"]
    assert process.wait(timeout=60) == 70  # EXIT_STALLED: its supervisor restarts it
    stuck.processes.clear()
    assert _status(settings)["gone"][0]["how"] == "ended by its watchdog (stalled)"
    replacement = _workers(settings, tmp_path / "logs-2")
    try:
        _wait_run(settings.database_url, run_id)
    finally:
        replacement.stop()
    assert_exactly_once(settings.database_url, commands.report(settings, run_id), 200)


class _Supervisor:
    """Restarts a worker that exits with a non-zero code, as systemd's Restart=on-failure does."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.restarts: list[int] = []
        self.fleet = _workers(settings, log_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            code = self.fleet.processes[0].poll()
            if code not in (None, 0):
                self.restarts.append(code)
                self.fleet.processes.clear()
                self.fleet = _workers(self.settings, self.log_dir)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.fleet.stop()


def test_a_redis_restart_leaves_no_worker_stalled_and_loses_nothing(clean_db: str, tmp_path: Path) -> None:
    """Redis restarts mid-run under a supervised worker: the run finishes, every file once, and
    the fleet shows a live worker and no stall; a watchdog restart, if one was needed, is counted."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings = Settings.from_env({}, redis_url=server.url, database_url=clean_db, batch_max_bytes=16 * 1024)
    supervisor = _Supervisor(settings, tmp_path / "logs")
    try:
        wait_until(lambda: len(_status(settings)["workers"]) == 1, "the worker's first heartbeat", 60)
        run_id = _submit(settings, many_files(tmp_path / "repo", 600))
        wait_until(lambda: _status(settings)["workers"][0]["batches_done"] > 0, "batches under way", 60)
        server.shutdown()
        threading.Event().wait(2)  # the outage lasts 2 s
        server.start()
        _wait_run(clean_db, run_id, 240)
        wait_until(lambda: len(_status(settings)["workers"]) == 1, "a worker beating after the restart", 30)
        after = _status(settings)
    finally:
        supervisor.stop()
        server.kill()
    assert after["stalled"] == [] and after["workers"][0]["state"] == "running"
    assert set(supervisor.restarts) <= {70}, supervisor.restarts  # only ever the watchdog's own exit
    print(f"redis restart: watchdog restarts {len(supervisor.restarts)}")
    assert_exactly_once(clean_db, commands.report(settings, run_id), 600)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--limit", "-1"], "--limit must be 0 or more"),
        (["status", "--watch", "often"], "--watch must look like 90s, 30m or 2h"),
        (["scale", "advise", "--drain-within", "0s"], "--drain-within must look like 90s, 30m or 2h"),
        (["scale", "advise", "--drain-within", "soon"], "--drain-within must look like 90s, 30m or 2h"),
    ],
)
def test_bad_operations_input_is_a_one_line_error(args: list[str], message: str, tmp_path: Path) -> None:
    env = {**os.environ, "PARSEFLEET_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([*PARSEFLEET, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


@pytest.mark.parametrize("command", [["status"], ["scale", "advise"], ["pause"], ["resume"], ["worker-probe"]])
def test_operations_commands_have_help(command: list[str]) -> None:
    done = subprocess.run([*PARSEFLEET, *command, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "usage: parsefleet" in done.stdout


def test_worker_probe_fails_without_a_live_heartbeat_and_names_the_host(settings: Settings) -> None:
    done = _cli(["worker-probe", "--host", "nowhere.example"], settings)
    assert done.returncode == 1 and "no live heartbeat from host nowhere.example" in done.stderr
