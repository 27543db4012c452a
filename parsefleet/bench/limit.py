"""The machine's limit: files already in memory, parsed and outlined by a plain loop, one process
per core, no queue and no database. The fleet can only approach this.

Each job of the loop is a batch, and a loop process does with it what a worker's pool child does
with a batch: ``outline_batch`` (parsefleet.workers.outcome) with the budgets of the same settings
(the parse deadline, the pool child's memory budget, the symbol cap), each outline handed on to
rows that hold it until the batch is done, as a worker's rows hold it until the commit. Its
timings are the batch's own (``duration_ms`` and ``cpu_ms``, what a worker stores for the batch),
so the limit's rate per process (bytes per outline-second, per CPU-second) is measured by the same
clock over the same work as the fleet's per language. The wall time, from the start signal to the
last process finding no job left, is the figure the fleet's end-to-end rate is compared with.

So that the figures hold still from one measurement to the next: the files reach the loop
processes by the fork, and each process takes its next job from a shared counter, so the parent
does nothing while they run (a process pool's hand-outs and results cost its parent 0.5 - 1.4 ms
of CPU a job, on the same cores); every process outlines one batch of each language before the
clock starts (first calls); the largest batches go first, so that the last ones to finish are
small; and a measurement makes passes over its files until it has done at least
``MIN_MEASURED_BYTES``, so that a small corpus (a language alone) is measured over enough work.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import signal
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

from parsefleet.bench.corpus_files import BenchFile
from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import WorkersDied
from parsefleet.contract.outline import FileStatus, Outline
from parsefleet.contract.settings import Settings
from parsefleet.producer.submission import blob_hash
from parsefleet.workers.app import child_budget_mb
from parsefleet.workers.languages import adapter_for, load_adapters
from parsefleet.workers.limits import ParseBudget
from parsefleet.workers.outcome import outline_batch

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event, Semaphore

__all__ = ["MIN_MEASURED_BYTES", "AdapterCost", "Throughput", "WorkerBudget", "adapter_cost", "limit"]

MIN_MEASURED_BYTES = 8_000_000  # source bytes one measurement outlines at least (passes over its files)
_TIMEOUT_S = 60.0
_JOB_FILES = 10  # small jobs keep every process busy to the end
_START_TIMEOUT_S = 120.0  # the loop processes' warm-up, at most (a guard: the semaphore is the synchronisation)


@dataclass(frozen=True, slots=True)
class Throughput:
    """Files and bytes done by ``processes`` loop processes in a wall-clock time, and the time the
    jobs themselves took (the sum over jobs of their batch's wall and CPU time)."""

    files: int
    size_bytes: int
    seconds: float
    cpu_s: float = 0.0  # the loop processes' CPU inside their jobs (each batch's cpu_ms)
    outline_s: float = 0.0  # the loop processes' wall time inside their jobs (each batch's duration_ms)
    processes: int = 1
    failed: int = 0  # files the loop could not outline within the worker's budget (a worker records them failed)

    @property
    def mb_per_cpu_s(self) -> float:
        """Megabytes (10^6) per CPU-second of one loop process: what load from others cannot lower."""
        return self.size_bytes / 1e6 / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def mb_per_outline_s(self) -> float:
        """Megabytes (10^6) per second inside a job, per loop process: the rate a worker's batches are
        measured by (bytes over their ``duration_ms``)."""
        return self.size_bytes / 1e6 / self.outline_s if self.outline_s > 0 else 0.0

    @property
    def files_per_min(self) -> float:
        """Files per minute."""
        return self.files / self.seconds * 60 if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        """Megabytes (10^6) per second, all processes together, over the wall-clock time."""
        return self.size_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class WorkerBudget:
    """What a worker's pool child allows one file (from the same settings as the fleet's workers)."""

    timeout_s: float
    rss_limit_mb: float | None
    symbols_max: int | None
    reparsed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, settings: Settings) -> WorkerBudget:
        """The budget of a pool child of a worker run with ``settings``."""
        return cls(
            settings.parse_timeout_s, child_budget_mb(settings), settings.max_file_symbols, settings.reparsed_languages
        )

    def for_file(self) -> ParseBudget:
        """One file's budget, as ``outline_batch`` makes it."""
        return ParseBudget(self.timeout_s, self.rss_limit_mb, self.symbols_max)


@dataclass(slots=True)
class _HeldRows:
    """Rows that hold each outline until the batch is done, as a worker's hold it until the commit
    (workers.store.BatchRows): freeing the outlines is not the outline's time there either."""

    outlines: list[Outline] = field(default_factory=list)

    def add(self, _blob_hash: bytes, outline: Outline) -> None:
        self.outlines.append(outline)


@dataclass(frozen=True, slots=True)
class _Loop:
    """What a loop process gets by the fork: the batches, the order to take them in, the budget."""

    batches: tuple[Batch, ...]
    jobs: tuple[int, ...]  # indexes into batches, in the order the processes take them
    warmup: tuple[int, ...]  # one batch of each language, outlined before the clock starts
    budget: WorkerBudget
    outline: bool


@dataclass(slots=True)
class _Share:
    """What one loop process did: files, bytes, its batches' wall and CPU seconds, failed files, and
    when it found no job left (``time.perf_counter``, the same clock in every process)."""

    files: int = 0
    size_bytes: int = 0
    outline_s: float = 0.0
    cpu_s: float = 0.0
    failed: int = 0
    finished_at: float = 0.0


@dataclass(frozen=True, slots=True)
class _Signals:
    """How the parent and its loop processes meet: each process releases ``ready`` once warmed up,
    all start at ``go``, and take the next job at ``taken`` (a shared counter with its lock)."""

    ready: Semaphore
    go: Event
    taken: Synchronized[int]


def _loop_process(loop: _Loop, signals: _Signals, out: Connection) -> None:
    """A loop process: the default signal dispositions (the CLI's interrupt handlers, inherited by the
    fork, would print a traceback when the parent ends it), grammars loaded, warmed up; then jobs
    until none is left, and its share sent back once. A job that raises sends its error instead."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    try:
        load_adapters()
        for index in loop.warmup:
            _job(loop, index, _Share())
        signals.ready.release()
        signals.go.wait()
        share = _Share()
        while (position := _next(signals.taken)) < len(loop.jobs):
            _job(loop, loop.jobs[position], share)
        share.finished_at = time.perf_counter()
    except Exception as exc:
        out.send_bytes(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        raise
    out.send_bytes(json.dumps(asdict(share)).encode())  # JSON: nothing is unpickled


def _next(taken: Synchronized[int]) -> int:
    with taken.get_lock():
        position = taken.value
        taken.value = position + 1
    return position


def _job(loop: _Loop, index: int, share: _Share) -> None:
    """Batch ``index``, added to ``share``: its files and bytes, its wall and CPU seconds by the
    batch's own clock, its files that failed."""
    batch = loop.batches[index]
    if loop.outline:
        rows = _HeldRows()
        outcome = outline_batch(
            batch, loop.budget.timeout_s, loop.budget.rss_limit_mb, loop.budget.symbols_max, rows,
            reparsed=loop.budget.reparsed,
        )  # fmt: skip
        share.outline_s += outcome.duration_ms / 1000
        share.cpu_s += (outcome.cpu_ms or 0.0) / 1000
        share.failed += outcome.count(FileStatus.FAILED)
        del rows, outcome  # the outlines go after the batch's clock, as at a worker's commit
    else:
        wall_s, cpu_s = _parsed(batch, loop.budget)
        share.outline_s += wall_s
        share.cpu_s += cpu_s
    share.files += len(batch.files)
    share.size_bytes += batch.size_bytes


def _parsed(batch: Batch, budget: WorkerBudget) -> tuple[float, float]:
    """The raw tree-sitter parse of a batch's files, no outline: wall and CPU seconds."""
    adapter = adapter_for(batch.language)
    started, started_cpu = time.perf_counter(), time.thread_time()
    for item in batch.files:
        adapter.parse(item.content, budget.for_file())
    return time.perf_counter() - started, time.thread_time() - started_cpu


def _batches(files: Sequence[BenchFile]) -> tuple[list[Batch], list[int]]:
    """Batches of ``_JOB_FILES`` files of one language each, in the order of ``files`` per language;
    and the index of each language's first batch."""
    batches: list[Batch] = []
    first: list[int] = []
    for language in sorted({f.language for f in files}):
        mine = [f for f in files if f.language == language]
        first.append(len(batches))
        for start in range(0, len(mine), _JOB_FILES):
            items = tuple(
                BatchFile(FileRef(0, str(f.path), blob_hash(f.content), language, len(f.content)), f.content)
                for f in mine[start : start + _JOB_FILES]
            )
            batches.append(Batch(f"limit-{len(batches)}", "limit", language, items))
    return batches, first


def limit(
    files: Sequence[BenchFile],
    processes: int,
    budget: WorkerBudget,
    *,
    outline: bool = True,
    min_bytes: int = MIN_MEASURED_BYTES,
) -> Throughput:
    """Outline ``files`` across ``processes`` loop processes, each file within ``budget``, passes
    over them until ``min_bytes`` are done; ``outline`` False: the raw tree-sitter parse alone, the
    floor of any tree-sitter fleet. Timed from the start signal to the last process finding no job."""
    batches, first = _batches(files)
    size_bytes = sum(batch.size_bytes for batch in batches)
    passes = max(1, math.ceil(min_bytes / size_bytes)) if size_bytes else 1
    order = sorted(range(len(batches)), key=lambda index: -batches[index].size_bytes)  # the largest first
    loop = _Loop(tuple(batches), tuple(order * passes), tuple(first), budget, outline)
    context = multiprocessing.get_context("fork")
    signals = _Signals(context.Semaphore(0), context.Event(), context.Value("q", 0))
    pipes = [context.Pipe(duplex=False) for _ in range(processes)]
    children = [context.Process(target=_loop_process, args=(loop, signals, sender)) for _, sender in pipes]
    for child in children:
        child.start()
    try:
        for _ in children:
            if not signals.ready.acquire(timeout=_START_TIMEOUT_S):
                raise WorkersDied(f"the limit's loop processes did not warm up within {_START_TIMEOUT_S:g} s")
        clock = time.perf_counter()
        signals.go.set()
        shares = [_share_of(receiver, child) for (receiver, _), child in zip(pipes, children, strict=True)]
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join()
    return Throughput(
        files=sum(share.files for share in shares),
        size_bytes=sum(share.size_bytes for share in shares),
        seconds=max(share.finished_at for share in shares) - clock,
        cpu_s=sum(share.cpu_s for share in shares),
        outline_s=sum(share.outline_s for share in shares),
        processes=processes,
        failed=sum(share.failed for share in shares),
    )


def _share_of(receiver: Connection, child: BaseProcess) -> _Share:
    """The share ``child`` sends; WorkersDied when it fails or exits without one."""
    wait([receiver, child.sentinel])
    if not receiver.poll():
        raise WorkersDied(f"a loop process of the limit exited (code {child.exitcode}) before its share")
    sent = json.loads(receiver.recv_bytes())
    if "error" in sent:
        raise WorkersDied(f"a loop process of the limit failed: {sent['error']}")
    return _Share(**sent)


@dataclass(frozen=True, slots=True)
class AdapterCost:
    """Seconds to parse alone and to parse and outline the same files, one core."""

    parse_s: float
    outline_s: float

    @property
    def overhead(self) -> float:
        """The adapter's cost as a share of the parse time."""
        return (self.outline_s - self.parse_s) / self.parse_s if self.parse_s > 0 else 0.0


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
