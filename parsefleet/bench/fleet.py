"""The fleet, end to end: producer -> Redis -> real Celery workers (caps on) -> PostgreSQL,
timed from the first file read to the last row committed, on a fresh database.

The run's time is the run's own record (``runs.started_at`` to ``runs.finished_at``, both on the
database's clock): the producer creates the run once it has listed its targets and connected, right
before it reads the first file. The listing and connecting before that are timed apart
(``listing_s``), so that they are neither hidden nor charged to the fleet.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row

from parsefleet.bench.probe import TreeProbe, pin_tree
from parsefleet.bench.system_cpu import services_cpu_s
from parsefleet.contract.errors import WorkersDied
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.database import session, sql
from parsefleet.producer.snapshot import plan_targets
from parsefleet.producer.submission import Submission
from parsefleet.producer.targets import planned
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.telemetry.flag import TelemetryFlag

__all__ = ["FleetRun", "cores_given", "fleet_run"]

_HERE = Path(__file__).parent
_POLL_S = 0.05
_COMMENT = {".py": "#", ".go": "//", ".rs": "//"}


@dataclass
class FleetRun:
    """What one end-to-end run measured."""

    seconds: float
    languages: list[dict[str, Any]]
    peak_rss_mb: list[float]
    cpu_share: float  # of the cores given to the workers
    first_outline_s: float | None  # start of submit to the first committed batch
    first_batch_ms: float | None
    cold_start_s: float  # worker process start to the first committed outline of the warm-up
    concurrency: int = 1  # pool processes of the worker
    cores: int = 1  # CPUs the worker may use; cpu_share is of these
    skipped: int = 0
    listing_s: float = 0.0  # producer start to the run's start: listing the target, connecting
    producer_cpu_s: float = 0.0  # the producer's thread, from before the listing to the run's end
    # CPU seconds of Redis and PostgreSQL over the same span, those that run on this host
    service_cpu_s: dict[str, float] = field(default_factory=dict)
    batch_target_ms: float = 0.0  # what the producer sized batches for (0: batch_max_bytes)
    pinned_cpus: int = 0  # CPUs the workers were pinned to after their warm-up (0: not pinned)

    @property
    def files(self) -> int:
        """Files the run finished."""
        return sum(int(row["files"]) for row in self.languages)

    @property
    def system_cpu_s(self) -> float:
        """CPU seconds of the whole system: workers, producer and the services on this host."""
        return self.cpu_share * self.seconds * self.cores + self.producer_cpu_s + sum(self.service_cpu_s.values())


def cores_given() -> int:
    """CPUs this process tree may run on: the limit loop's processes and the workers' CPU share."""
    return len(os.sched_getaffinity(0))


def fleet_run(
    settings: Settings,
    redis_url: str,
    database_url: str,
    target: Path,
    *,
    warmup: Path,
    log_dir: Path,
    flag_pct: int = 100,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    history: int | None = None,
    service_pids: Mapping[str, int] | None = None,
    pin_cpus: set[int] | None = None,
) -> FleetRun:
    """Start ``workers`` worker processes (``env`` added to theirs), warm them up on ``warmup``, then
    measure a run of ``target``; ``service_pids`` (parsefleet.bench.system_cpu) are the services
    whose CPU is counted too; ``pin_cpus`` pins the workers to those CPUs after their warm-up (a
    host slower per pool process, simulated).

    The warm-up's files get new content first (a comment), so that it reaches the workers even on
    a database that parsed the warm-up before (a second run on the same store): a warm-up whose
    blobs are known sends nothing, and the measured run would meet workers still starting.

    ``history``: the run indexes each of the target's last ``history`` commits (history mode).
    The telemetry flag is at ``flag_pct`` meanwhile (100: Step 2 figures for every batch, as in
    production after the ramp; left alone after a revert), and back at its value afterwards.
    """
    flag = TelemetryFlag(redis_client(redis_url), redis_url)
    before = flag.read_lenient()
    if not before.reverted:
        flag.set_pct(flag_pct)
    fleet = LocalWorkers(redis_url, database_url, log_dir, count=workers, env=env)
    spawned = time.perf_counter()
    fleet.start()
    try:
        _renew(warmup)
        _submit_and_wait(settings, redis_url, database_url, warmup, fleet)
        cold_start_s = time.perf_counter() - spawned
        for process in fleet.processes if pin_cpus else ():
            pin_tree(process.pid, pin_cpus or set())
        probe = TreeProbe([process.pid for process in fleet.processes])
        services_before = services_cpu_s(dict(service_pids or {}))
        producer_before = time.thread_time()
        probe.start()
        measured = _measured(settings, redis_url, database_url, target, fleet, history=history)
        probe.stop()
        producer_cpu_s = time.thread_time() - producer_before
        services_after = services_cpu_s(dict(service_pids or {}))
    finally:
        fleet.stop()
        flag.set_pct(before.pct)
    languages, first = _figures(database_url, measured.run_id, measured.started_at)
    seconds = measured.seconds
    return FleetRun(
        seconds=seconds,
        languages=languages,
        peak_rss_mb=list(probe.peak_rss_mb.values()),
        cpu_share=probe.cpu_used_s / seconds / cores_given() if seconds else 0.0,
        first_outline_s=first.get("after_s"),
        first_batch_ms=first.get("duration_ms"),
        cold_start_s=cold_start_s,
        skipped=measured.skipped,
        concurrency=settings.concurrency,
        cores=cores_given(),
        listing_s=measured.listing_s,
        producer_cpu_s=producer_cpu_s,
        service_cpu_s={name: services_after[name] - services_before[name] for name in services_after},
        batch_target_ms=settings.batch_target_ms,
        pinned_cpus=len(pin_cpus or ()),
    )


def _renew(warmup: Path) -> None:
    """A comment of its own at the end of each warm-up file: blobs no store has met."""
    mark = uuid.uuid4().hex
    for path in sorted(warmup.iterdir()):
        comment = _COMMENT.get(path.suffix)
        if comment is not None and path.is_file():
            with path.open("a", encoding="utf-8") as out:
                out.write(f"{comment} warm-up {mark}\n")


@dataclass(frozen=True)
class _Measured:
    run_id: str
    started_at: datetime  # the run's start (runs.started_at)
    seconds: float  # the run's start to its finish
    listing_s: float  # before the run's start: the producer listing the target and connecting
    skipped: int


def _measured(
    settings: Settings, redis_url: str, database_url: str, target: Path, workers: LocalWorkers, *, history: int | None
) -> _Measured:
    """The run's seconds are from the run's start to the commit that finished it, both on the
    database's clock, so the poll that waits for it adds nothing (runs before the evening of
    2026-11-27 counted up to one poll interval, 50 ms, more; runs before session 6 started the clock
    before the producer listed the target).
    """
    with session(database_url) as conn:
        row = conn.execute("SELECT now()").fetchone()
        conn.commit()
    assert row is not None and isinstance(row[0], datetime)
    run_id, skipped, started_at, finished_at = _submit_and_wait(
        settings, redis_url, database_url, target, workers, history=history
    )
    return _Measured(
        run_id=run_id,
        started_at=started_at,
        seconds=(finished_at - started_at).total_seconds(),
        listing_s=(started_at - row[0]).total_seconds(),
        skipped=skipped,
    )


def _submit_and_wait(
    settings: Settings,
    redis_url: str,
    database_url: str,
    target: Path,
    workers: LocalWorkers,
    *,
    history: int | None = None,
) -> tuple[str, int, datetime, datetime]:
    """Submit ``target``; wait for the run to finish, or raise WorkersDied when the workers have exited.
    Returns the run's id, its skipped files, and its start and finish (``runs``, the database's clock)."""
    tally = Submission(settings, redis_url, database_url).run(
        planned(plan_targets([target], settings, history=history), settings)
    )
    with session(database_url) as conn:
        while True:
            row = conn.execute("SELECT started_at, finished_at FROM runs WHERE id = %s", (tally.run_id,)).fetchone()
            conn.commit()
            if row is not None and isinstance(row[0], datetime) and isinstance(row[1], datetime):
                return tally.run_id, sum(tally.skipped.values()), row[0], row[1]
            if len(workers.dead()) == workers.count:
                raise WorkersDied(
                    f"the bench's worker exited (codes {workers.dead()}) before its run finished; see {workers.log_dir}"
                )
            time.sleep(_POLL_S)


def _figures(database_url: str, run_id: str, started_at: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    params = {"run_id": run_id, "started_at": started_at}
    with session(database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
        languages = [dict(row) for row in cursor.execute(sql(_HERE, "fleet_figures"), params)]
        first = cursor.execute(sql(_HERE, "first_batch"), params).fetchone() or {}
    for row in languages:
        row["files_per_min"] = row["files"] / row["elapsed_s"] * 60 if row["elapsed_s"] else 0.0
    return languages, dict(first)
