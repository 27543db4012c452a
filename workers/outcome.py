"""Outline every file of a batch; a file that cannot be outlined becomes a named failure.

Each file's outline is handed on as soon as it is made (``OutlineRows``: in a worker, the batch's
rows on their way to COPY, workers/store.py), so that a batch holds about one file's outline at a
time, whatever its size; what the batch keeps of a file is its ``OutlineSummary``.

Successive versions of one file (history mode sends them together, in commit order:
producer/submission.py) are re-parsed each from the previous version's tree, in the languages
``reparsed`` names (the setting ``reparse_languages``: where ``parsefleet bench --profile history``
measured a gain).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import ParseFailure
from parsefleet.contract.outline import FileStatus, Outline
from parsefleet.contract.paths import shown
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.base import LanguageAdapter, Version
from parsefleet.workers.limits import ParseBudget

__all__ = ["BatchOutcome", "FileOutcome", "OutlineRows", "OutlineSummary", "outline_batch"]

log = logging.getLogger(__name__)


class OutlineRows(Protocol):
    """Where each file's outline goes once it is made (workers.store.BatchRows)."""

    def add(self, blob_hash: bytes, outline: Outline) -> None:
        """Take the outline of blob ``blob_hash``."""


class OutlineSummary(NamedTuple):
    """What a blob's row records of its outline: its status and counts."""

    status: FileStatus
    symbols: int
    error_count: int
    unexpanded_macros: int

    @classmethod
    def of(cls, outline: Outline) -> OutlineSummary:
        """The summary of ``outline``."""
        return cls(outline.status, len(outline.symbols), outline.error_count, outline.unexpanded_macros)


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """One file's result: an outline's summary (and the outline itself, unless it was handed on to
    the batch's rows), or a failure kind and message."""

    ref: FileRef
    outline: Outline | None
    failure_kind: str | None = None
    message: str = ""
    summary: OutlineSummary | None = None

    @classmethod
    def outlined(cls, ref: FileRef, outline: Outline, *, keep: bool = True) -> FileOutcome:
        """A file outlined; ``keep``: the outcome holds the outline (no rows took it)."""
        return cls(ref, outline if keep else None, summary=OutlineSummary.of(outline))

    @property
    def status(self) -> FileStatus:
        """The file's status as stored in ``blobs.status``."""
        return FileStatus.FAILED if self.summary is None else self.summary.status


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Every file's outcome and the time the batch took to outline: wall (``duration_ms``, the
    batch latency) and this thread's CPU (``cpu_ms``; the difference is time spent waiting for a core).
    Neither counts the time the rows took on their way to PostgreSQL while the files were outlined."""

    batch: Batch
    files: tuple[FileOutcome, ...]
    duration_ms: float
    cpu_ms: float | None = None
    reparsed: int = 0  # files parsed from their previous version's tree

    def count(self, status: FileStatus) -> int:
        """Files of one status."""
        return sum(1 for item in self.files if item.status is status)

    @property
    def symbols(self) -> int:
        """Symbols in every outline of the batch."""
        return sum(item.summary.symbols for item in self.files if item.summary is not None)

    def failed(self, kind: str, message: str) -> BatchOutcome:
        """This outcome with every outlined file failed as ``kind`` (the failed ones keep their own)."""
        files = tuple(
            item if item.summary is None else FileOutcome(item.ref, None, kind, message) for item in self.files
        )
        return replace(self, files=files)


def outline_batch(
    batch: Batch,
    timeout_s: float,
    rss_limit_mb: float | None,
    symbols_max: int | None = None,
    rows: OutlineRows | None = None,
    *,
    reparsed: frozenset[str] = frozenset(),
) -> BatchOutcome:
    """Outline each file within its own budget; the rest of the batch goes on after a failure.

    The memory budget is the pool child's whole resident size, so each file's parse and outline
    are measured on top of the batch (its payload and the rows not yet handed on). With ``rows``,
    each outline goes there as soon as it is made and the outcomes keep only summaries; without,
    the outcomes keep the outlines. A file of a language in ``reparsed`` that the next file of the
    batch is a later version of keeps its tree for that next parse.
    """
    started, started_cpu = time.perf_counter(), time.thread_time()
    adapter = adapter_for(batch.language)
    outcomes = []
    handing_s = handing_cpu_s = 0.0
    previous: Version | None = None  # the file before, while the next file is its next version
    from_previous = 0
    for index, item in enumerate(batch.files):
        keep = batch.language in reparsed and _next_is_same_file(batch, index)
        budget = ParseBudget(timeout_s, rss_limit_mb, symbols_max)
        from_previous += previous is not None
        outcome, previous = _outline_file(adapter, batch, item, budget, rows, previous=previous, keep=keep)
        outcomes.append(outcome[0])
        handing_s, handing_cpu_s = handing_s + outcome[1], handing_cpu_s + outcome[2]
    cpu_ms = (time.thread_time() - started_cpu - handing_cpu_s) * 1000
    wall_ms = (time.perf_counter() - started - handing_s) * 1000
    return BatchOutcome(batch, tuple(outcomes), wall_ms, cpu_ms, from_previous)


def _next_is_same_file(batch: Batch, index: int) -> bool:
    if index + 1 >= len(batch.files):
        return False
    ref, following = batch.files[index].ref, batch.files[index + 1].ref
    return following.path == ref.path and following.repository_id == ref.repository_id


def _outline_file(
    adapter: LanguageAdapter,
    batch: Batch,
    item: BatchFile,
    budget: ParseBudget,
    rows: OutlineRows | None,
    *,
    previous: Version | None,
    keep: bool,
) -> tuple[tuple[FileOutcome, float, float], Version | None]:
    """One file's outcome, and the wall and CPU seconds its outline took on its way to ``rows``;
    its version (when ``keep``) for the next file, a later version of it (a failure keeps none).

    The outline is referenced only from this frame (and ``rows``): it is gone before the next file
    is parsed."""
    kept = None
    try:
        outline, kept = adapter.outline_version(item.content, budget, previous, keep=keep)
    except ParseFailure as exc:
        log.warning("batch %s: %s failed (%s): %s", batch.batch_id, shown(item.ref.path), exc.kind, exc)
        return (FileOutcome(item.ref, None, exc.kind, str(exc)), 0.0, 0.0), None
    except RecursionError:
        return (FileOutcome(item.ref, None, "recursion", "outline nesting too deep"), 0.0, 0.0), None
    except MemoryError:  # one file's allocation failed: the process goes on with the next file
        log.warning("batch %s: %s failed (memory): out of memory while outlining", batch.batch_id, shown(item.ref.path))
        return (FileOutcome(item.ref, None, "memory", "out of memory while outlining"), 0.0, 0.0), None
    if rows is None:
        return (FileOutcome.outlined(item.ref, outline), 0.0, 0.0), kept
    started, started_cpu = time.perf_counter(), time.thread_time()
    rows.add(item.ref.blob_hash, outline)
    handing = (time.perf_counter() - started, time.thread_time() - started_cpu)
    return (FileOutcome.outlined(item.ref, outline, keep=False), *handing), kept
