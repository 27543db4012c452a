"""Faults against real processes: nothing accepted is lost, nothing is stored twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.cli import commands
from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.names import OUTBOX_KEY, TELEMETRY_FLAG, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.submission import blob_hash
from parsefleet.reading.report import RunReport
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.limits import ParseBudget
from tests.accounting import Watched, assert_exactly_once, known_run, many_files, wait_for_batches
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(300)]

_FILES = 3000
# The outbox sweep (parsefleet/plumbing/outbox.py) at test pace: a batch lost without a trace is back in 2-3 s.
_FAST_SWEEP = {"PARSEFLEET_OUTBOX_SWEEP_S": "0.5", "PARSEFLEET_OUTBOX_GRACE_S": "2"}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found.extend(int(child) for child in task.read_text().split())
    return found


class _Submit:
    """``submit --wait`` in a thread, started at once."""

    def __init__(self, settings: Settings, repo: Path) -> None:
        self.result: dict[str, RunReport] = {}
        self.thread = threading.Thread(
            target=lambda: self.result.setdefault(
                "report", commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
            )
        )
        self.thread.start()

    def finished_with(self, fleet: LocalWorkers, watched: Watched, timeout_s: float) -> RunReport:
        """Start ``fleet`` (watched), wait for the run to finish, stop the fleet; the run's report."""
        fleet.start()
        watched.watch([process.pid for process in fleet.processes])
        try:
            self.thread.join(timeout=timeout_s)
        finally:
            watched.stop_all()
            fleet.stop()
        assert not self.thread.is_alive(), f"the run did not finish within {timeout_s:g} s: a batch was lost"
        return self.result["report"]


def _fast_redelivery(settings: Settings) -> Settings:
    return Settings.from_env(
        {},
        redis_url=settings.redis_url,
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        visibility_timeout_s=10,
        batch_max_bytes=32 * 1024,
    )


def test_killing_pool_children_mid_batch_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    repo = many_files(tmp_path / "repo", _FILES)
    settings = _fast_redelivery(settings)
    assert settings.redis_url and settings.database_url
    fleet = LocalWorkers(
        settings.redis_url, settings.database_url, tmp_path / "logs", env={"PARSEFLEET_VISIBILITY_TIMEOUT_S": "10"}
    )
    fleet.start()
    watched = Watched()
    watched.watch([process.pid for process in fleet.processes])
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        # Paced by progress, not by the clock: kill number k once 3 + 3k batches are committed, so
        # every kill lands mid-run (the run has ~45 batches) however fast or slow the machine is,
        # and never while the pool is still starting.
        main_pid = fleet.processes[0].pid
        while len(killed) < 5 and wait_for_batches(settings.database_url or "", 3 + 3 * len(killed), stop=stop):
            children = [child for child in _children(main_pid) if child not in killed]
            if children:
                os.kill(children[0], signal.SIGKILL)
                killed.append(children[0])
            elif stop.wait(0.02):
                return

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    finally:
        stop.set()
        thread.join()
        watched.stop_all()
        fleet.stop()
    assert len(killed) == 5
    figures = assert_exactly_once(settings.database_url, report, _FILES)
    print(watched.summary("5 pool children killed", figures))


def test_killing_the_worker_main_process_then_starting_another(settings: Settings, tmp_path: Path) -> None:
    repo = many_files(tmp_path / "repo", _FILES)
    settings = _fast_redelivery(settings)
    assert settings.redis_url and settings.database_url
    env = {"PARSEFLEET_VISIBILITY_TIMEOUT_S": "10", **_FAST_SWEEP}
    first = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs1", env=env)
    first.start()
    watched = Watched()
    first_probe = watched.watch([process.pid for process in first.processes])
    submit = _Submit(settings, repo)
    wait_for_batches(settings.database_url, 5)  # the first worker has committed batches
    main_pid = first.processes[0].pid
    watched.stop(first_probe)
    for child in _children(main_pid):
        os.kill(child, signal.SIGKILL)
    os.kill(main_pid, signal.SIGKILL)
    first.processes[0].wait()
    second = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs2", env=env)
    report = submit.finished_with(second, watched, timeout_s=240)
    figures = assert_exactly_once(settings.database_url, report, _FILES)
    print(watched.summary("worker main process killed, another started", figures))


def test_a_batch_taken_from_redis_by_a_worker_that_died_unrecorded_is_sent_again(
    settings: Settings, tmp_path: Path
) -> None:
    """kombu's hand-off window, made certain: a worker that dies after BRPOP took a batch and before
    kombu recorded it as unacknowledged leaves no trace of it in Redis. The outbox sends it again."""
    repo = many_files(tmp_path / "repo", _FILES)
    settings = replace(_fast_redelivery(settings), max_pending_batches=10_000)  # all sent, no worker yet
    assert settings.redis_url and settings.database_url
    submit = _Submit(settings, repo)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        wait_until(
            lambda: conn.execute("SELECT 1 FROM runs WHERE batches_total IS NOT NULL").fetchone(),
            "every batch sent",
        )
    broker = redis.Redis.from_url(settings.redis_url)
    taken = broker.rpop(queue_for("python"))  # what BRPOP hands a worker
    assert isinstance(taken, bytes)
    taken_id = json.loads(taken)["headers"]["id"]
    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", env=_FAST_SWEEP)
    watched = Watched()
    report = submit.finished_with(fleet, watched, timeout_s=240)
    figures = assert_exactly_once(settings.database_url, report, _FILES)
    print(watched.summary("a batch taken unrecorded", figures))
    assert f"batch {taken_id} left Redis without reaching a worker" in (tmp_path / "logs" / "worker-0.log").read_text()
    assert broker.hlen(OUTBOX_KEY) == 0


def test_a_batch_delivered_twice_is_stored_once(settings: Settings, worker: LocalWorkers) -> None:
    content = b"class A:\n    def m(self):\n        pass\n\ndef f():\n    pass\n"
    ref = FileRef(1, "a.py", blob_hash(content), "python", len(content))
    assert settings.redis_url and settings.database_url
    run_id = known_run(settings.database_url)
    batch = Batch(f"{run_id}:000001", run_id, "python", (BatchFile(ref, content),))
    redis.Redis.from_url(settings.redis_url).set(TELEMETRY_FLAG, "100")  # Step 2: batch_metrics rows too
    enqueuer = Enqueuer(settings, settings.redis_url)
    outbox = redis.Redis.from_url(settings.redis_url)
    expected = len(adapter_for("python").outline(content, ParseBudget(10)).symbols)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:

        def delivered(times: int) -> bool:
            return conn.execute("SELECT deliveries FROM batch_results").fetchone() == (times,)

        enqueuer.send(batch)
        wait_until(lambda: delivered(1), "the first delivery stored", 60)
        wait_until(lambda: not outbox.hexists(OUTBOX_KEY, batch.batch_id), "the first delivery finished", 60)
        # Sent again once stored: a batch whose first delivery committed and died before finishing
        # (so the outbox still holds it). Both sent at once, the second may instead find the first
        # finished and be acknowledged as "finished before" (tests/test_pipeline.py), a race.
        enqueuer.send(batch)
        enqueuer.close()
        wait_until(lambda: delivered(2), "the second delivery consumed", 60)
        assert conn.execute("SELECT count(*) FROM batch_results").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM batch_metrics").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM symbols").fetchone() == (expected,)


def test_local_workers_stop_when_their_launcher_is_killed(settings: Settings, tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from parsefleet.services.local_workers import LocalWorkers\n"
        f"workers = LocalWorkers({settings.redis_url!r}, {settings.database_url!r}, Path({str(tmp_path)!r}),"
        " env={'PARSEFLEET_LOG_LEVEL': 'INFO'})\n"
        "workers.start()\n"
        "print(workers.processes[0].pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert launcher.stdout is not None
    worker_pid = int(launcher.stdout.readline())
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("worker-0.log")) or "ready" not in (tmp_path / "worker-0.log").read_text():
        assert time.monotonic() < deadline, "the worker never became ready"
        time.sleep(0.1)
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 60
    while Path(f"/proc/{worker_pid}").exists() and "Z" not in _state(worker_pid):
        assert time.monotonic() < deadline, "the orphaned worker kept running"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"
