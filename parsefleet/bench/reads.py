"""``parsefleet bench --profile reads``: the console's API latency on a filled store, with and
without a fleet writing to it, and what the reads cost the fleet.

1. A fleet run fills a scratch database with the ``large`` corpus (the tiny stand-in when it is not
   built): the store the reads look into.
2. ``parsefleet serve`` runs on that database in a process of its own, as a user starts it; one
   client asks it ``GET /api/find`` (exact names drawn from the store, seeded) and
   ``GET /api/outline`` (files drawn from the store), alternately, at a steady pace of
   ``READS_PER_S`` requests per second (a person typing in the search box and opening outlines).
   Latency is client-side, from request to the last byte of the response, on one kept-alive
   connection.
3. Side by side, alternating without and with the client reading: fleet runs that write a fresh
   copy of the ``ts2-200`` corpus (each copy's files end in a different comment, so that every blob
   is new and parsed). The reads' latency while the fleet writes counts the requests made between
   the measured run's start and finish (``runs``, on the database's clock, which is this machine's);
   the fleet's slowdown is the median seconds with reads over the median without, minus one.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import BenchFile, load_profile
from parsefleet.bench.fleet import fleet_run
from parsefleet.bench.runner import warmup_repo
from parsefleet.contract.errors import CorpusError
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.database import session, sql
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.services.endpoints import Services

__all__ = ["READS_PER_S", "Latency", "ReadsResult", "render", "run_reads"]

READS_PER_S = 10
_ROUNDS = 3  # fleet runs without reads, and as many with
_SAMPLES = 2_000  # names and files drawn from the store
_SEED = 20261203
_HERE = Path(__file__).parent
_SERVER_START_S = 60.0
_IDLE_S = 30.0  # the client alone, before the fleet runs
_COMMENT = {
    "python": b"\n# parsefleet bench copy %d\n",
    "go": b"\n// parsefleet bench copy %d\n",
    "rust": b"\n// parsefleet bench copy %d\n",
}


@dataclass(frozen=True)
class Latency:
    """Client-side latency of one kind of request, in ms."""

    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    errors: int  # responses other than 200

    @classmethod
    def of(cls, samples: Sequence[tuple[float, int]]) -> Latency:
        """From (ms, HTTP status) pairs."""
        times = sorted(ms for ms, _status in samples)
        errors = sum(1 for _ms, status in samples if status != 200)
        if not times:
            return cls(0, 0.0, 0.0, 0.0, errors)
        return cls(len(times), _quantile(times, 0.50), _quantile(times, 0.95), times[-1], errors)


@dataclass
class ReadsResult:
    """What the reads profile measured."""

    corpus: str
    symbols: int
    files: int
    idle: dict[str, Latency]
    writing: dict[str, Latency]
    fleet_s_without_reads: list[float]
    fleet_s_with_reads: list[float]
    files_per_run: list[int]  # files each writing run stored: every copy's files are new blobs
    reads_per_s: int = READS_PER_S

    @property
    def fleet_slowdown(self) -> float:
        """Median fleet seconds with reads over the median without, minus one (0.03: 3% slower)."""
        without = statistics.median(self.fleet_s_without_reads)
        return statistics.median(self.fleet_s_with_reads) / without - 1 if without else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {**asdict(self), "fleet_slowdown": self.fleet_slowdown}


def run_reads(settings: Settings, corpus_dir: Path, *, rounds: int = _ROUNDS, idle_s: float = _IDLE_S) -> ReadsResult:
    """Fill a store, serve it, and measure (module docstring): ``rounds`` fleet runs without reads and
    as many with, the client alone for ``idle_s`` before them."""
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-reads-") as scratch_dir:
        scratch = Path(scratch_dir)
        fill, _ = load_profile("large", corpus_dir, scratch)
        _write_target, written = load_profile("ts2-200", corpus_dir, scratch / "writes")
        warmup = warmup_repo(scratch)
        with Services(settings) as services, scratch_database(services.database_url, "parsefleet_bench_reads") as url:
            fleet = _Fleet(settings, services.redis_url, url, warmup, scratch)
            fleet.run(fill)
            names, files = _samples(url)
            with _Server(services.redis_url, url, scratch / "serve.log") as server:
                client = _Client(server.port, names, files)
                idle = client.measure_for(idle_s)
                without, with_reads, during = [], [], []
                for index in range(rounds):
                    without.append(fleet.run(_copy(written, scratch / f"copy-{2 * index}", 2 * index)))
                    with client.running():
                        with_reads.append(fleet.run(_copy(written, scratch / f"copy-{2 * index + 1}", 2 * index + 1)))
                    during.extend(client.samples_between(*_last_run_window(url)))
        symbols, stored = len(names), len(files)
    return ReadsResult(
        corpus=fill.name,
        symbols=symbols,
        files=stored,
        idle=_by_kind(idle),
        writing=_by_kind(during),
        fleet_s_without_reads=without,
        fleet_s_with_reads=with_reads,
        files_per_run=fleet.files[1:],
    )


# --- the fleet that writes -----------------------------------------------------------------------


@dataclass
class _Fleet:
    settings: Settings
    redis_url: str
    database_url: str
    warmup: Path
    scratch: Path

    files: list[int] = field(default_factory=list)

    def run(self, target: Path) -> float:
        """One measured fleet run of ``target``: its seconds (its stored files go to ``files``)."""
        log_dir = self.scratch / f"logs-{len(self.files)}"
        run = fleet_run(self.settings, self.redis_url, self.database_url, target, warmup=self.warmup, log_dir=log_dir)
        self.files.append(sum(int(row["files"]) for row in run.languages))
        return run.seconds


def _copy(files: Sequence[BenchFile], target: Path, copy: int) -> Path:
    """``files`` under ``target``, each ending in a comment naming ``copy``: new blobs, same parse work."""
    for item in files:
        root = _root_of(item.path)
        out = target / item.path.relative_to(root)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(item.content + _COMMENT[item.language] % copy)
    return target


def _root_of(path: Path) -> Path:
    """The corpus directory a bench file lies under (the one holding MANIFEST.json, or ``tiny``)."""
    for parent in path.parents:
        if (parent / "MANIFEST.json").exists() or parent.name == "tiny":
            return parent
    raise CorpusError(f"{path} is under no corpus directory")


def _samples(database_url: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Names and (repository, path) pairs drawn from the store, seeded."""
    with session(database_url) as conn:
        names = [str(row[0]) for row in conn.execute(sql(_HERE, "read_names"))]
        files = [(str(row[0]), str(row[1])) for row in conn.execute(sql(_HERE, "read_files"))]
        conn.commit()
    if not names or not files:
        raise CorpusError("the reads bench's fill stored no definitions: see the workers' logs")
    pick = random.Random(_SEED)
    return pick.sample(names, min(_SAMPLES, len(names))), pick.sample(files, min(_SAMPLES, len(files)))


def _last_run_window(database_url: str) -> tuple[float, float]:
    """Start and finish (epoch seconds) of the latest run: the measured one."""
    with session(database_url) as conn:
        row = conn.execute(sql(_HERE, "last_run_window")).fetchone()
        conn.commit()
    if row is None:
        raise CorpusError("the reads bench finds no finished run")
    start, finish = row
    assert isinstance(start, Decimal) and isinstance(finish, Decimal)
    return float(start), float(finish)


# --- the console and its client ------------------------------------------------------------------


class _Server:
    """``parsefleet serve --port 0`` on the bench's database, in a process of its own."""

    def __init__(self, redis_url: str, database_url: str, log: Path) -> None:
        self.env = {**os.environ, "PARSEFLEET_REDIS_URL": redis_url, "PARSEFLEET_DATABASE_URL": database_url}
        self.log = log
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> _Server:
        command = [sys.executable, "-m", "parsefleet.cli.main", "serve", "--port", "0"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        line = _first_line(self.process.stdout, _SERVER_START_S)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if found is None:
            self.__exit__()
            raise CorpusError(f"parsefleet serve did not start: {line.strip() or 'no output'}; see {self.log}")
        self.port = int(found.group(1))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _first_line(stream: Any, timeout_s: float) -> str:
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return found[0] if found else ""


class _Client:
    """One kept-alive connection asking find and outline in turn, ``READS_PER_S`` a second."""

    def __init__(self, port: int, names: Sequence[str], files: Sequence[tuple[str, str]]) -> None:
        self.port = port
        self.requests = [
            request
            for name, (root, path) in zip(names, files, strict=False)
            for request in (
                ("find", "/api/find?" + urllib.parse.urlencode({"q": name})),
                ("outline", "/api/outline?" + urllib.parse.urlencode({"repository": root, "path": path})),
            )
        ]
        self.samples: list[tuple[float, str, float, int]] = []  # (epoch s, kind, ms, status)
        self._stop = threading.Event()
        self._next = 0

    def measure_for(self, seconds: float) -> list[tuple[float, str, float, int]]:
        """Ask for ``seconds`` in this thread; the samples taken."""
        start = len(self.samples)
        self._loop(time.monotonic() + seconds)
        return self.samples[start:]

    @contextmanager
    def running(self) -> Iterator[None]:
        """Within: the client asks from a thread of its own."""
        self._stop.clear()
        thread = threading.Thread(target=self._loop, args=(float("inf"),), daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()

    def samples_between(self, start_s: float, end_s: float) -> list[tuple[float, str, float, int]]:
        """The samples taken between two epoch times."""
        return [sample for sample in self.samples if start_s <= sample[0] <= end_s]

    def _loop(self, until: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        interval = 1 / READS_PER_S
        tick = time.monotonic()
        try:
            while time.monotonic() < until and not self._stop.is_set():
                self._ask(connection)
                tick += interval
                self._stop.wait(max(0.0, tick - time.monotonic()))
        finally:
            connection.close()

    def _ask(self, connection: http.client.HTTPConnection) -> None:
        kind, path = self.requests[self._next % len(self.requests)]
        self._next += 1
        began = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        self.samples.append((time.time(), kind, (time.perf_counter() - began) * 1000, response.status))


def _by_kind(samples: Sequence[tuple[float, str, float, int]]) -> dict[str, Latency]:
    return {
        kind: Latency.of([(ms, status) for _at, of_kind, ms, status in samples if of_kind == kind])
        for kind in ("find", "outline")
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, by linear interpolation between the nearest ranks."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def render(result: ReadsResult) -> str:
    """The latency table and the fleet's runs side by side."""
    lines = [
        f"reads profile: {result.files} files, {result.symbols} names drawn from the {result.corpus} store;"
        f" one client, {result.reads_per_s} requests/s",
        f"{'request':<9}{'while':<9}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for label, figures in (("idle", result.idle), ("writing", result.writing)):
        for kind, latency in figures.items():
            lines.append(
                f"{kind:<9}{label:<9}{latency.requests:>9}{latency.p50_ms:>9.1f}{latency.p95_ms:>9.1f}"
                f"{latency.max_ms:>9.1f}{latency.errors:>8}"
            )
    without = ", ".join(f"{s:.2f}" for s in result.fleet_s_without_reads)
    with_reads = ", ".join(f"{s:.2f}" for s in result.fleet_s_with_reads)
    lines.append(f"fleet runs without reads: {without} s; with reads: {with_reads} s")
    lines.append(f"the reads slowed the fleet by {result.fleet_slowdown:+.1%} (median against median)")
    return "\n".join(lines)
