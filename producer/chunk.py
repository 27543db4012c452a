"""Pure batching: files in, byte-sized batches of one language out."""

from __future__ import annotations

from collections.abc import Iterator

from parsefleet.contract.batch import Batch, BatchFile

__all__ = ["Chunker"]


class Chunker:
    """Accumulates files per language; hands out a batch once it holds ``max_bytes`` or ``max_files``.

    A file larger than ``max_bytes`` travels alone. Batch ids are ``<run_id>:<sequence>``.
    """

    def __init__(self, run_id: str, max_bytes: int, max_files: int) -> None:
        self.run_id = run_id
        self.max_bytes = max_bytes
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
        if files and size + item.ref.size_bytes > self.max_bytes:
            full = self._take(language)
        self._pending[language].append(item)
        self._pending_bytes[language] = self._pending_bytes.get(language, 0) + item.ref.size_bytes
        if full is None and (
            len(self._pending[language]) >= self.max_files or self._pending_bytes[language] >= self.max_bytes
        ):
            full = self._take(language)
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
