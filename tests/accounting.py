"""What every fault test checks at the end: each accepted file accounted for exactly once."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from parsefleet.bench.probe import TreeProbe
from parsefleet.cli import commands
from parsefleet.contract.settings import Settings
from parsefleet.reading.report import RunReport
from parsefleet.services.local_workers import LocalWorkers

__all__ = [
    "ChildPeaks",
    "Figures",
    "Watched",
    "WorkerTreePeak",
    "assert_exactly_once",
    "known_run",
    "many_files",
    "probed_run",
    "wait_for_batches",
]


def known_run(database_url: str) -> str:
    """The id of a new run recorded in the database (workers refuse batches of runs it does not know)."""
    run_id = str(uuid.uuid4())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO runs (id, targets) VALUES (%s, %s)", (run_id, ["/test"]))
    return run_id


def many_files(root: Path, count: int) -> Path:
    """``count`` small Python files (14 symbols each) under ``root``."""
    root.mkdir()
    for index in range(count):
        body = "".join(f"def f{index}_{n}(x):\n    return x + {n}\n\n" for n in range(12))
        (root / f"m{index:05d}.py").write_text(f"class K{index}:\n    pass\n\n{body}")
    return root


def probed_run(
    settings: Settings,
    repo: Path,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    interval_s: float = 0.05,
    children: ChildPeaks | None = None,
) -> tuple[RunReport, TreeProbe]:
    """Start a local worker (``env`` added to its environment), submit ``repo`` and wait, with the
    worker tree probed for RSS and CPU meanwhile (and each pool child's RSS by ``children``); the
    worker is stopped whatever happens."""
    assert settings.redis_url and settings.database_url
    fleet = LocalWorkers(settings.redis_url, settings.database_url, log_dir, env=env)
    fleet.start()
    pids = [process.pid for process in fleet.processes]
    probe = TreeProbe(pids, interval_s=interval_s)
    probe.start()
    if children is not None:
        children.start(pids)
    try:
        report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    finally:
        if children is not None:
            children.stop()
        probe.stop()
        fleet.stop()
    return report, probe


@dataclass
class ChildPeaks:
    """The highest RSS of any one descendant of the sampled worker main processes (a pool child,
    whichever it was: recycled children count too), sampled every ``interval_s`` in a thread."""

    interval_s: float = 0.02
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, pids: Sequence[int]) -> None:
        """Begin sampling the descendants of ``pids``."""
        self._thread = threading.Thread(target=self._loop, args=(list(pids),), name="child-peaks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self, pids: list[int]) -> None:
        while not self._stop.wait(self.interval_s):
            for pid in pids:
                for child in _descendants(pid):
                    self.peak_mb = max(self.peak_mb, _rss_mb(child))


@dataclass
class WorkerTreePeak:
    """The highest RSS of the worker processes (main processes and pool children together) among
    the descendants of ``root``, whatever started them, sampled every ``interval_s`` in a thread."""

    root: int
    interval_s: float = 0.02
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin sampling."""
        self._thread = threading.Thread(target=self._loop, name="worker-tree-peak", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            mains = [pid for pid in _descendants(self.root) if b"parsefleet.workers" in _cmdline(pid)]
            tree = set(mains) | {child for pid in mains for child in _descendants(pid)}
            self.peak_mb = max(self.peak_mb, sum(_rss_mb(pid) for pid in tree))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        try:
            listed = Path(f"/proc/{pending.pop()}/task").glob("*/children")
            children = [int(child) for task in listed for child in task.read_text().split()]
        except (OSError, ValueError):
            continue
        found.extend(children)
        pending.extend(children)
    return found


def _rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1_048_576
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass(frozen=True)
class Figures:
    """What a fault test reports once nothing is lost or duplicated: files, redeliveries of committed
    batches (``deliveries - 1``), and batches split as poison."""

    files: int
    redeliveries: int
    splits: int


def assert_exactly_once(database_url: str, report: RunReport, files: int, failed: int = 0) -> Figures:
    """The run finished with ``files`` seen, ``failed`` of them failed and the rest parsed, one result
    row per batch (splits included), one blob row per file and no duplicate symbol rows."""
    assert report.state.finished
    python = next(item for item in report.languages if item.language == "python")
    assert python.seen == files and python.accounted, python
    assert python.parsed == files - failed and python.failed == failed, python
    with psycopg.connect(database_url) as conn:
        results = conn.execute(
            "SELECT count(*), count(DISTINCT batch_id), sum(files), sum(deliveries - 1), count(*) FILTER"
            " (WHERE split_into > 0) FROM batch_results WHERE run_id = %s",
            (report.state.run_id,),
        ).fetchone()
        blobs = conn.execute("SELECT count(*), sum(symbol_count) FROM blobs").fetchone()
        symbols = conn.execute("SELECT count(*), count(DISTINCT (blob_hash, ordinal)) FROM symbols").fetchone()
    assert results is not None and blobs is not None and symbols is not None
    count, distinct, stored, redeliveries, splits = (int(value or 0) for value in results)
    assert count == distinct == report.state.batches_total, (count, distinct, report.state.batches_total)
    assert stored == files and blobs[0] == files
    assert symbols[0] == symbols[1] == blobs[1]
    return Figures(stored, redeliveries, splits)


def wait_for_batches(
    database_url: str, count: int, timeout_s: float = 120, stop: threading.Event | None = None
) -> bool:
    """Wait until ``count`` batches of any run are committed (True), or until ``stop`` is set (False)."""
    deadline = time.monotonic() + timeout_s
    stop = stop or threading.Event()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while (conn.execute("SELECT count(*) FROM batch_results").fetchone() or (0,))[0] < count:
            assert time.monotonic() < deadline, f"fewer than {count} batches committed within {timeout_s:g} s"
            if stop.wait(0.01):
                return False
    return True


@dataclass
class Watched:
    """Worker trees sampled for RSS and CPU over a test's run: the figures docs/reliability.md reports.
    Stop a tree's probe before killing it (a dead tree's CPU time can no longer be read)."""

    probes: list[TreeProbe] = field(default_factory=list)
    _started: dict[int, float] = field(default_factory=dict)
    _elapsed_s: dict[int, float] = field(default_factory=dict)

    def watch(self, pids: Sequence[int]) -> TreeProbe:
        """Start sampling the process trees of ``pids`` (worker main processes)."""
        probe = TreeProbe(list(pids), interval_s=0.05)
        probe.start()
        self._started[id(probe)] = time.monotonic()
        self.probes.append(probe)
        return probe

    def stop(self, probe: TreeProbe) -> None:
        """Stop one probe (idempotent)."""
        if id(probe) not in self._elapsed_s:
            probe.stop()
            self._elapsed_s[id(probe)] = time.monotonic() - self._started[id(probe)]

    def stop_all(self) -> None:
        """Stop every probe: before the workers stop."""
        for probe in self.probes:
            self.stop(probe)

    def summary(self, name: str, figures: Figures) -> str:
        """One line of figures: files, time, loss, duplicates, redeliveries, peak RSS, CPU share of the cores."""
        self.stop_all()
        peak = max(max(probe.peak_rss_mb.values(), default=0.0) for probe in self.probes)
        cores = len(os.sched_getaffinity(0))
        shares = [
            probe.cpu_used_s / (self._elapsed_s[id(probe)] * len(probe.pids) * cores)
            for probe in self.probes
            if self._elapsed_s[id(probe)] > 0
        ]
        ended_s = max(self._started[id(probe)] + self._elapsed_s[id(probe)] for probe in self.probes)
        elapsed_s = ended_s - min(self._started.values())
        return (
            f"{name}: {figures.files} files in {elapsed_s:.0f} s, 0 lost, 0 duplicated, {figures.redeliveries}"
            f" redeliveries of committed batches, peak worker RSS {peak:.0f} MB, worker CPU share"
            f" {', '.join(f'{share:.0%}' for share in shares)}"
        )
