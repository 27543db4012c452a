"""The machine's limit: files already in memory, parsed and outlined by a plain loop, one process
per core, no queue and no database. The fleet can only approach this.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

from parsefleet.bench.corpus_files import BenchFile
from parsefleet.workers.languages import adapter_for, load_adapters
from parsefleet.workers.limits import ParseBudget

__all__ = ["AdapterCost", "Throughput", "adapter_cost", "limit"]

_TIMEOUT_S = 60.0
_JOB_FILES = 10  # small jobs keep every process busy to the end


@dataclass(frozen=True, slots=True)
class Throughput:
    """Files and bytes done in a wall-clock time."""

    files: int
    size_bytes: int
    seconds: float
    cpu_s: float = 0.0  # the loop processes' CPU over their jobs

    @property
    def mb_per_cpu_s(self) -> float:
        """Megabytes (10^6) per CPU-second of one loop process: what load from others cannot lower."""
        return self.size_bytes / 1e6 / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def files_per_min(self) -> float:
        """Files per minute."""
        return self.files / self.seconds * 60 if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        """Megabytes (10^6) per second."""
        return self.size_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class AdapterCost:
    """Seconds to parse alone and to parse and outline the same files, one core."""

    parse_s: float
    outline_s: float

    @property
    def overhead(self) -> float:
        """The adapter's cost as a share of the parse time."""
        return (self.outline_s - self.parse_s) / self.parse_s if self.parse_s > 0 else 0.0


def _pool_child() -> None:
    """A loop process: the default signal dispositions (the CLI's interrupt handlers, inherited by the
    fork, would print a traceback when the pool ends its processes), grammars loaded."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    load_adapters()


def _outline_all(job: tuple[str, bool, list[bytes]]) -> tuple[int, float]:
    """Files done and the CPU seconds they took."""
    language, outline, contents = job
    adapter = adapter_for(language)
    started = time.thread_time()
    for content in contents:
        if outline:
            adapter.outline(content, ParseBudget(_TIMEOUT_S))
        else:
            adapter.parse(content, ParseBudget(_TIMEOUT_S))
    return len(contents), time.thread_time() - started


def limit(files: Sequence[BenchFile], processes: int, *, outline: bool = True) -> Throughput:
    """Outline ``files`` across ``processes`` workers (grammars loaded before the clock starts);
    ``outline`` False: the raw tree-sitter parse alone, the floor of any tree-sitter fleet."""
    jobs: list[tuple[str, bool, list[bytes]]] = []
    for language in sorted({f.language for f in files}):
        contents = [f.content for f in files if f.language == language]
        jobs.extend(
            (language, outline, contents[start : start + _JOB_FILES]) for start in range(0, len(contents), _JOB_FILES)
        )
    with multiprocessing.get_context("fork").Pool(processes, initializer=_pool_child) as pool:
        pool.map(_outline_all, [(language, outline, []) for language, _, _ in jobs])  # warm every process
        started = time.perf_counter()
        done = list(pool.imap_unordered(_outline_all, jobs))
        seconds = time.perf_counter() - started
    size_bytes = sum(len(f.content) for f in files)
    return Throughput(sum(count for count, _ in done), size_bytes, seconds, sum(cpu_s for _, cpu_s in done))


def adapter_cost(files: Sequence[BenchFile], repeats: int = 3) -> AdapterCost:
    """Parse alone vs parse and outline, in this process; the fastest of ``repeats`` passes each."""
    load_adapters()
    parse_s = min(_timed(files, outline=False) for _ in range(repeats))
    outline_s = min(_timed(files, outline=True) for _ in range(repeats))
    return AdapterCost(parse_s, outline_s)


def _timed(files: Sequence[BenchFile], *, outline: bool) -> float:
    started = time.perf_counter()
    for item in files:
        adapter = adapter_for(item.language)
        if outline:
            adapter.outline(item.content, ParseBudget(_TIMEOUT_S))
        else:
            adapter.parse(item.content, ParseBudget(_TIMEOUT_S))
    return time.perf_counter() - started
