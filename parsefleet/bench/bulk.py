"""``parsefleet bench --profile bulk``: the same files as one repository and as a thousand small ones.

The ``large`` corpus (the tiny stand-in when it is not built) is laid out twice under a scratch
directory: **one** git repository holding every file, and **many**: ``SMALL_REPOSITORIES`` git
repositories of ``SMALL_FILES`` files each (the corpus's files dealt round robin) plus one
repository holding the rest. Each layout is submitted as a user does it, by a real
`parsefleet submit --wait --from LIST` process, to one fresh local worker on a database of its own,
side by side in one invocation, ``ROUNDS`` times each in the order one, many, many, one. Per run:
end-to-end files/min (the run's start to its finish, on the database's clock), time to the first
stored outline, the producer's peak RSS (``VmHWM``), and Redis ``used_memory`` sampled every
``_SAMPLE_S`` (peak, and peak over the idle baseline). The headline is many files/min over one
files/min, median runs (the issue's goal: 0.8 or more).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import BenchFile, load_profile
from parsefleet.contract.errors import CorpusError
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.database import session, sql
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.producer.git import Git
from parsefleet.services.endpoints import Services
from parsefleet.services.local_workers import LocalWorkers

__all__ = ["ROUNDS", "SMALL_FILES", "SMALL_REPOSITORIES", "BulkResult", "Layout", "render", "run_bulk"]

SMALL_REPOSITORIES = 1000
SMALL_FILES = 3
_HERE = Path(__file__).parent
_SAMPLE_S = 0.05
ROUNDS = 2
_RUN_TIMEOUT_S = 3600
_SUBMIT = [sys.executable, "-m", "parsefleet.cli.main", "submit", "--wait", "--no-progress"]


@dataclass(frozen=True)
class Layout:
    """One layout's run."""

    name: str
    repositories: int
    files: int
    seconds: float
    files_per_min: float
    first_outline_s: float | None
    producer_peak_rss_mb: float
    redis_peak_mb: float
    redis_peak_over_idle_mb: float


@dataclass(frozen=True)
class BulkResult:
    """Both layouts, and the ratio of their rates."""

    corpus: str
    one: Layout  # the median run of each layout
    many: Layout
    max_pending_bytes: int
    runs: list[Layout] = field(default_factory=list)  # every run, in the order run

    @property
    def ratio(self) -> float:
        """Files/min of many repositories over files/min of one."""
        return self.many.files_per_min / self.one.files_per_min if self.one.files_per_min else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {**asdict(self), "ratio": self.ratio}


def run_bulk(
    settings: Settings, corpus_dir: Path, *, small: int = SMALL_REPOSITORIES, rounds: int = ROUNDS
) -> BulkResult:
    """Lay the corpus out both ways (``small`` small repositories) and run each ``rounds`` times, in
    the order one, many, many, one, ... so that neither layout always runs first (module docstring)."""
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-bulk-") as scratch_dir:
        scratch = Path(scratch_dir)
        source, files = load_profile("large", corpus_dir, scratch)
        if len(files) <= small * SMALL_FILES:
            raise CorpusError(f"{source}: {len(files)} files, not more than the {small * SMALL_FILES} to deal out")
        one = [_repository(scratch / "one" / "all", files)]
        many = _small_repositories(scratch / "many", files, small)
        layouts = {"one": one, "many": many}
        runs: list[Layout] = []
        with Services(settings) as services:
            for index in range(rounds):
                for name in ("one", "many") if index % 2 == 0 else ("many", "one"):
                    runs.append(_measured(services, settings, name, layouts[name], scratch / f"run-{len(runs)}"))
    return BulkResult(source.name, _median(runs, "one"), _median(runs, "many"), settings.max_pending_bytes, runs)


def _median(runs: list[Layout], name: str) -> Layout:
    """The run of layout ``name`` with the median files/min (the lower middle one of an even count)."""
    found = sorted((run for run in runs if run.name == name), key=lambda run: run.files_per_min)
    return found[(len(found) - 1) // 2]


def _small_repositories(root: Path, files: Sequence[BenchFile], small: int) -> list[Path]:
    dealt = small * SMALL_FILES
    repositories = [_repository(root / f"r{index:04d}", files[index:dealt:small]) for index in range(small)]
    return [*repositories, _repository(root / "rest", files[dealt:])]


def _repository(root: Path, files: Sequence[BenchFile]) -> Path:
    """A git repository holding ``files`` (untracked: git lists them), paths as in the corpus."""
    root.mkdir(parents=True)
    Git(root / ".git", root, root).run("init", "-q", "--template=")
    for item in files:
        out = root / Path(*item.path.parts[-3:])
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():  # the same tail under two corpus roots
            out = out.with_name(f"{len(list(out.parent.iterdir()))}-{out.name}")
        out.write_bytes(item.content)
    return root


def _measured(services: Services, settings: Settings, name: str, targets: list[Path], scratch: Path) -> Layout:
    scratch.mkdir()
    listing = scratch / f"{name}.txt"
    listing.write_text("".join(f"{target}\n" for target in targets))
    with scratch_database(services.database_url, f"parsefleet_bench_bulk_{name}") as url:
        fleet = LocalWorkers(services.redis_url, url, scratch / f"logs-{name}", count=1)
        fleet.start()
        try:
            sampler = _Sampler(services.redis_url)
            command = [*_SUBMIT, "--from", str(listing)]
            producer = subprocess.Popen(
                command, env=_env(services, url, settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            sampler.watch(producer.pid)
            _out, err = producer.communicate(timeout=_RUN_TIMEOUT_S)
            sampler.stop()
        finally:
            fleet.stop()
        if producer.returncode != 0:
            raise CorpusError(f"the bulk bench's {name} run failed: {err.strip().splitlines()[-1:]}")
        return _layout(url, name, len(targets), sampler)


def _env(services: Services, database_url: str, settings: Settings) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PARSEFLEET_")}
    return {
        **clean,
        "PARSEFLEET_REDIS_URL": services.redis_url,
        "PARSEFLEET_DATABASE_URL": database_url,
        "PARSEFLEET_MAX_PENDING_BYTES": str(settings.max_pending_bytes),
    }


def _layout(database_url: str, name: str, repositories: int, sampler: _Sampler) -> Layout:
    with session(database_url) as conn:
        row = conn.execute(sql(_HERE, "bulk_run")).fetchone()
        conn.commit()
    if row is None:
        raise CorpusError(f"the bulk bench's {name} run left no finished run")
    files, seconds, first_s = int(str(row[0])), float(str(row[1])), row[2]
    return Layout(
        name=name,
        repositories=repositories,
        files=files,
        seconds=seconds,
        files_per_min=files / seconds * 60 if seconds else 0.0,
        first_outline_s=None if first_s is None else float(str(first_s)),
        producer_peak_rss_mb=sampler.producer_peak_kb / 1024,
        redis_peak_mb=sampler.redis_peak / 1e6,
        redis_peak_over_idle_mb=(sampler.redis_peak - sampler.redis_idle) / 1e6,
    )


class _Sampler:
    """Redis used_memory and the producer's peak RSS, sampled on a thread while the run lasts."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis_client(redis_url)
        self.redis_idle = self._used()
        self.redis_peak = self.redis_idle
        self.producer_peak_kb = 0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, pid: int) -> None:
        """Sample until ``stop``."""
        self._thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        self.client.close()

    def _run(self, pid: int) -> None:
        while not self._stopped.wait(_SAMPLE_S):
            self.redis_peak = max(self.redis_peak, self._used())
            self.producer_peak_kb = max(self.producer_peak_kb, _peak_rss_kb(pid))

    def _used(self) -> int:
        return int(self.client.info("memory")["used_memory"])


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def render(result: BulkResult) -> str:
    """The table for a terminal."""
    lines = [
        f"bulk: corpus {result.corpus}, the same files as 1 repository and as {result.many.repositories}"
        f" (max_pending_bytes {result.max_pending_bytes // (1024 * 1024)} MiB)",
        f"{'layout':<8}{'repos':>7}{'files':>8}{'seconds':>9}{'files/min':>11}{'first s':>9}"
        f"{'producer MB':>13}{'redis MB':>10}{'over idle':>11}",
    ]
    for layout in result.runs or [result.one, result.many]:
        first = "-" if layout.first_outline_s is None else f"{layout.first_outline_s:.2f}"
        lines.append(
            f"{layout.name:<8}{layout.repositories:>7}{layout.files:>8}{layout.seconds:>9.1f}"
            f"{layout.files_per_min:>11.0f}{first:>9}{layout.producer_peak_rss_mb:>13.1f}"
            f"{layout.redis_peak_mb:>10.1f}{layout.redis_peak_over_idle_mb:>11.1f}"
        )
    lines.append(f"many/one files/min (median runs): {result.ratio:.2f} (goal 0.8 or more)")
    return "\n".join(lines)
