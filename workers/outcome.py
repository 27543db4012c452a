"""Outline every file of a batch; a file that cannot be outlined becomes a named failure.

Successive versions of one file (history mode sends them together, in commit order:
producer/submission.py) are re-parsed each from the previous version's tree, in the languages
``reparsed`` names (the setting ``reparse_languages``: where ``parsefleet bench --profile history``
measured a gain).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import ParseFailure
from parsefleet.contract.outline import FileStatus, Outline
from parsefleet.contract.paths import shown
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.base import LanguageAdapter, Version
from parsefleet.workers.limits import ParseBudget

__all__ = ["BatchOutcome", "FileOutcome", "outline_batch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """One file's result: an outline, or a failure kind and message."""

    ref: FileRef
    outline: Outline | None
    failure_kind: str | None = None
    message: str = ""

    @property
    def status(self) -> FileStatus:
        """The file's status as stored in ``blobs.status``."""
        return FileStatus.FAILED if self.outline is None else self.outline.status


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Every file's outcome and the time the batch took to outline: wall (``duration_ms``, the
    batch latency) and this thread's CPU (``cpu_ms``; the difference is time spent waiting for a core)."""

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
        return sum(len(item.outline.symbols) for item in self.files if item.outline is not None)


def outline_batch(
    batch: Batch,
    timeout_s: float,
    rss_limit_mb: float | None,
    symbols_max: int | None = None,
    reparsed: frozenset[str] = frozenset(),
) -> BatchOutcome:
    """Outline each file within its own budget; the rest of the batch goes on after a failure.

    The memory budget is the pool child's whole resident size, so each file's parse and outline
    are measured on top of the batch (its payload and the outlines kept so far for the commit).
    A file of a language in ``reparsed`` that the next file of the batch is a later version of
    keeps its tree for that next parse.
    """
    started, started_cpu = time.perf_counter(), time.thread_time()
    adapter = adapter_for(batch.language)
    outcomes = []
    previous: Version | None = None  # the file before, while the next file is its next version
    from_previous = 0
    for index, item in enumerate(batch.files):
        keep = batch.language in reparsed and _next_is_same_file(batch, index)
        budget = ParseBudget(timeout_s, rss_limit_mb, symbols_max)
        from_previous += previous is not None
        outcome, previous = _outline_file(adapter, batch, item, budget, previous, keep=keep)
        outcomes.append(outcome)
    cpu_ms = (time.thread_time() - started_cpu) * 1000
    return BatchOutcome(batch, tuple(outcomes), (time.perf_counter() - started) * 1000, cpu_ms, from_previous)


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
    previous: Version | None,
    *,
    keep: bool,
) -> tuple[FileOutcome, Version | None]:
    """One file's outcome, and its version (when ``keep``) for the next; a failure keeps none."""
    try:
        if previous is None and not keep:
            outline, kept = adapter.outline(item.content, budget), None
        else:
            outline, kept = adapter.outline_version(item.content, budget, previous, keep=keep)
    except ParseFailure as exc:
        log.warning("batch %s: %s failed (%s): %s", batch.batch_id, shown(item.ref.path), exc.kind, exc)
        return FileOutcome(item.ref, None, exc.kind, str(exc)), None
    except RecursionError:
        return FileOutcome(item.ref, None, "recursion", "outline nesting too deep"), None
    except MemoryError:  # one file's allocation failed: the process goes on with the next file
        log.warning("batch %s: %s failed (memory): out of memory while outlining", batch.batch_id, shown(item.ref.path))
        return FileOutcome(item.ref, None, "memory", "out of memory while outlining"), None
    return FileOutcome(item.ref, outline), kept
