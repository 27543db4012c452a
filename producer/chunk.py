"""Pure batching: files in, batches of one language out, sized by time or by bytes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from parsefleet.contract.batch import Batch, BatchFile

__all__ = ["MIN_SIZED_BYTES", "BatchSizer", "Chunker"]

# A time-sized batch holds at least this many bytes: below it the per-task cost dominates whatever
# the estimate says.
MIN_SIZED_BYTES = 16 * 1024


@dataclass
class BatchSizer:
    """The bytes a batch of each language may hold: ``target_ms`` of parse at the language's measured
    rate (``rates``: bytes per outline-second of one pool process, parsefleet.contract.parse_rate),
    never more than ``fixed_bytes``; ``fixed_bytes`` while a language has no estimate or
    ``target_ms`` is 0. A slow host gets smaller batches; a fast one keeps ``fixed_bytes``, past which
    the per-task cost no longer falls measurably (docs/benchmarks.md, "Batch size") while a batch's
    memory and its redelivery grow."""

    fixed_bytes: int
    target_ms: float = 0.0
    rates: Mapping[str, float] = field(default_factory=dict)

    def max_bytes(self, language: str) -> int:
        """Source bytes of one batch of ``language``."""
        rate = self.rates.get(language)
        if self.target_ms <= 0 or not rate or rate <= 0:
            return self.fixed_bytes
        sized = int(rate * self.target_ms / 1000)
        return min(self.fixed_bytes, max(MIN_SIZED_BYTES, sized))


class Chunker:
    """Accumulates files per language; hands out a batch once it holds the sizer's bytes for its
    language (``max_bytes`` fixed without a sizer) or ``max_files``.

    A file larger than that travels alone: with a time target, a file predicted to parse longer
    than the target. Batch ids are ``<run_id>:<sequence>``.
    """

    def __init__(self, run_id: str, max_bytes: int, max_files: int, sizer: BatchSizer | None = None) -> None:
        self.run_id = run_id
        self.sizer = sizer or BatchSizer(max_bytes)
        self.max_files = max_files
        self._pending: dict[str, list[BatchFile]] = {}
        self._pending_bytes: dict[str, int] = {}
        self.sequence = 0  # of the last batch handed out (a resumed run goes on from its own)

    def add(self, item: BatchFile) -> Batch | None:
        """Add one file; return the batch it completed, if any (the file may start the next one)."""
        language = item.ref.language
        files = self._pending.setdefault(language, [])
        size = self._pending_bytes.get(language, 0)
        full: Batch | None = None
        max_bytes = self.sizer.max_bytes(language)
        if files and size + item.ref.size_bytes > max_bytes:
            full = self._take(language)
        self._pending[language].append(item)
        self._pending_bytes[language] = self._pending_bytes.get(language, 0) + item.ref.size_bytes
        if full is None and (
            len(self._pending[language]) >= self.max_files or self._pending_bytes[language] >= max_bytes
        ):
            full = self._take(language)
        return full

    def add_group(self, items: Sequence[BatchFile]) -> list[Batch]:
        """Add files of one language that should travel in one batch (history mode: one file's
        versions, in commit order): the batch being filled is handed out first when they would not
        fit in it whole. Return the batches completed (a group larger than a batch still splits)."""
        if not items:
            return []
        language = items[0].ref.language
        pending = self._pending.get(language)
        size = self._pending_bytes.get(language, 0) + sum(item.ref.size_bytes for item in items)
        full = []
        if pending and (size > self.sizer.max_bytes(language) or len(pending) + len(items) > self.max_files):
            full.append(self._take(language))
        for item in items:
            batch = self.add(item)
            if batch is not None:
                full.append(batch)
        return full

    def flush(self) -> Iterator[Batch]:
        """Hand out every non-empty partial batch."""
        for language in sorted(self._pending):
            if self._pending[language]:
                yield self._take(language)

    def _take(self, language: str) -> Batch:
        files = tuple(self._pending[language])
        self._pending[language] = []
        self._pending_bytes[language] = 0
        self.sequence += 1
        return Batch(f"{self.run_id}:{self.sequence:06d}", self.run_id, language, files)
