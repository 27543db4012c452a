"""One run of the producer: targets in, batches on Redis, the run's accounting in PostgreSQL.

Every file with a supported extension that the producer sees ends in exactly one of: sent in a
batch (the worker then records it parsed or failed), skipped (counted by reason) or refused
(a failure recorded here: ``too-large``, ``unreadable``).

A blob met a second time in the same run is skipped as ``duplicate``, whichever window or target
it comes in; a blob first met in this run that an earlier run dealt with is ``unchanged`` (or
``crashed-before``). The run's own blobs are recognised before the database is asked, so blobs
that this run's workers commit meanwhile never count as ``unchanged``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.paths import printable, to_text
from parsefleet.contract.settings import Settings
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import Outbox
from parsefleet.producer.chunk import BatchSizer, Chunker
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.records import Failure, Ledger
from parsefleet.producer.walk import HardLinked, LinkOnPath, Listed, Plan, SourceReader, is_generated

__all__ = ["CANCELLED", "Submission", "Tally", "blob_hash"]

log = logging.getLogger(__name__)
# Files are read, hashed, checked against the known blobs and recorded a window at a time. The
# first window is small so that the first batch leaves early (reading and hashing 1,000 files took
# ~0.2 s before the workers had anything to do); windows double from there up to _WINDOW_FILES.
_WINDOW_FILES = 1000
_FIRST_WINDOW_FILES = 64
# Why a file read by a run that was then cancelled is not parsed.
CANCELLED = "cancelled"


def blob_hash(content: bytes) -> bytes:
    """The git blob id of ``content`` (so a clean checkout's hashes match ``git ls-files -s``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).digest()


@dataclass
class Tally:
    """Counts of one run, per language; ``seen == sent + skipped + refused`` for each language."""

    run_id: str
    seen: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (language, reason)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)  # (language, kind)
    batches: int = 0
    submitted: bool = False

    def skip(self, language: str, reason: str) -> None:
        """Count one skipped file."""
        self.skipped[language, reason] += 1


@dataclass
class _Window:
    files: list[FileRef] = field(default_factory=list)
    fresh: list[BatchFile] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


class Submission:
    """Submits targets as one run. ``progress`` is called with the tally after each window of files."""

    def __init__(
        self,
        settings: Settings,
        redis_url: str,
        database_url: str,
        *,
        ci: bool = False,
        progress: Callable[[Tally], None] | None = None,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        self.redis_url = redis_url
        self.ci = ci
        self.progress = progress or (lambda _tally: None)
        self.tally = Tally(str(uuid.uuid4()))
        self._met: set[tuple[str, bytes]] = set()  # (language, blob hash) of every blob read in this run
        sizer = BatchSizer(settings.batch_max_bytes, settings.batch_target_ms)
        self._chunker = Chunker(self.tally.run_id, settings.batch_max_bytes, settings.batch_max_files, sizer)
        # Where the current window is, so that an interrupt anywhere leaves an exact account
        # (``_abandon``): the window being read, batches made and not yet sent, batches sent and
        # not yet recorded.
        self._window: _Window | None = None
        self._unsent: list[Batch] = []
        self._unrecorded: list[Batch] = []

    def run(self, plan: Plan) -> Tally:
        """Filter, batch and enqueue every planned file (see ``plan_targets``); return the tally."""
        enqueuer = Enqueuer(self.settings, self.redis_url)
        ledger = Ledger(self.database_url, self.tally.run_id, self.settings.database_retry_s)
        try:
            ledger.start([to_text(str(root)) for root, _listed in plan], self.ci)
            for root, listed in plan:
                self._submit_root(ledger, enqueuer, root, listed)
            self._window = _Window()
            self._unsent.extend(self._chunker.flush())
            self._send(ledger, enqueuer)
            self._finish(ledger)
            ledger.mark_finished_if_complete()
        except (KeyboardInterrupt, SystemExit):
            self._abandon(ledger)
            raise
        finally:
            ledger.close()
            enqueuer.close()
        return self.tally

    def _submit_root(self, ledger: Ledger, enqueuer: Enqueuer, root: Path, listed: list[Listed]) -> None:
        repository_id = ledger.repository_id(to_text(str(root)))
        with SourceReader(root, follow_hardlinks=self.settings.follow_hardlinks) as reader:
            for start, stop in _windows(len(listed)):
                self._chunker.sizer.rates = enqueuer.parse_rates()  # batches sized by time (producer.chunk)
                window = self._read_window(reader, repository_id, listed[start:stop])
                self._batch_fresh(ledger, window)
                self._send(ledger, enqueuer)
                self.progress(self.tally)
        log.info("submitted %s: %d files listed", printable(str(root)), len(listed))

    def _read_window(self, reader: SourceReader, repository_id: int, listed: list[Listed]) -> _Window:
        window = self._window = _Window()
        for item in listed:
            self.tally.seen[item.language] += 1
            if item.skip is not None:
                self.tally.skip(item.language, item.skip)
                continue
            self._read_one(reader, repository_id, item, window)
        return window

    def _read_one(self, reader: SourceReader, repository_id: int, item: Listed, window: _Window) -> None:
        path = to_text(item.path)
        try:
            content = reader.read(item.path, self.settings.max_file_bytes)
        except LinkOnPath:
            self.tally.skip(item.language, "symlink")  # a directory became a symlink after the listing
            return
        except HardLinked:
            self.tally.skip(item.language, "hardlink")
            return
        except OSError as exc:
            ref = FileRef(repository_id, path, b"", item.language, 0)
            self._refuse(window, ref, "unreadable", exc.strerror or str(exc))
            return
        if content is None:
            ref = FileRef(repository_id, path, b"", item.language, 0)
            self._refuse(window, ref, "too-large", f"larger than {self.settings.max_file_bytes} bytes")
            return
        if is_generated(content):
            self.tally.skip(item.language, "generated")
            return
        ref = FileRef(repository_id, path, blob_hash(content), item.language, len(content))
        window.files.append(ref)
        window.fresh.append(BatchFile(ref, content))

    def _refuse(self, window: _Window, ref: FileRef, kind: str, message: str) -> None:
        self.tally.refused[ref.language, kind] += 1
        window.failures.append((ref, kind, message))

    def _batch_fresh(self, ledger: Ledger, window: _Window) -> None:
        first = self._first_meetings(window.fresh)
        known = {
            language: ledger.known(
                parser_version(language),
                {item.ref.blob_hash for item in first if item.ref.language == language},
                retry_crashed=self.settings.retry_crashed,
            )
            for language in {item.ref.language for item in first}
        }
        for item in first:
            reason = known[item.ref.language].get(item.ref.blob_hash)
            if reason is not None:
                self.tally.skip(item.ref.language, reason)
            else:
                self.tally.sent[item.ref.language] += 1
                full = self._chunker.add(item)
                if full is not None:
                    self._unsent.append(full)

    def _first_meetings(self, fresh: list[BatchFile]) -> list[BatchFile]:
        """The files of ``fresh`` whose blob this run meets for the first time; the others are counted
        as ``duplicate``."""
        first = []
        for item in fresh:
            key = (item.ref.language, item.ref.blob_hash)
            if key in self._met:
                self.tally.skip(item.ref.language, "duplicate")
            else:
                self._met.add(key)
                first.append(item)
        return first

    def _send(self, ledger: Ledger, enqueuer: Enqueuer) -> None:
        """Send the batches made, then record the window with them in one transaction."""
        while self._unsent:
            enqueuer.send(self._unsent[0])
            self._unrecorded.append(self._unsent.pop(0))
            self.tally.batches += 1
        window = self._window or _Window()
        ledger.record(window.files, self._unrecorded, window.failures)
        self._window, self._unrecorded = None, []

    def _abandon(self, ledger: Ledger) -> None:
        """Interrupted: the run is submitted with the batches already sent (the caller cancels
        those still queued); the files read but not sent are skipped as ``cancelled``; the files
        not yet read are not part of the run."""
        if self.tally.submitted:
            return
        ledger.close()  # its connection may have been cut in the middle of a statement
        kept = _kept(self.redis_url, [batch.batch_id for batch in self._unsent])
        for batch in self._unsent:  # the one being sent may have reached Redis: then it is sent
            if batch.batch_id in kept:
                self._unrecorded.append(batch)
                self.tally.batches += 1
            else:
                self._cancel_files(list(batch.files))
        self._unsent = []
        self._cancel_files(self._chunker.drop())
        for language, seen in self.tally.seen.items():  # read, and not yet chunked or skipped
            self.tally.skipped[language, CANCELLED] += seen - self._accounted(language)
        window = self._window or _Window()
        ledger.record(window.files, self._unrecorded, window.failures)
        self._finish(ledger)

    def _cancel_files(self, files: list[BatchFile]) -> None:
        for item in files:
            self.tally.sent[item.ref.language] -= 1
            self.tally.skip(item.ref.language, CANCELLED)

    def _accounted(self, language: str) -> int:
        skipped = sum(count for (lang, _reason), count in self.tally.skipped.items() if lang == language)
        refused = sum(count for (lang, _kind), count in self.tally.refused.items() if lang == language)
        return self.tally.sent[language] + skipped + refused

    def _finish(self, ledger: Ledger) -> None:
        inputs = {language: (seen, self.tally.sent[language]) for language, seen in self.tally.seen.items()}
        skips = dict(self.tally.skipped)
        ledger.finish(self.tally.batches, inputs, skips)
        self.tally.submitted = True
        self.progress(self.tally)


def _kept(redis_url: str, batch_ids: list[str]) -> set[str]:
    """Which batches the outbox holds (on a client of its own: the enqueuer's may be cut mid-command)."""
    if not batch_ids:
        return set()
    with translated(redis_url):
        client = redis_client(redis_url)
        try:
            return Outbox(client).holds(batch_ids)
        finally:
            client.close()


def _windows(total: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of each window over ``total`` files: _FIRST_WINDOW_FILES, doubling to _WINDOW_FILES."""
    start, size = 0, _FIRST_WINDOW_FILES
    while start < total:
        yield start, min(total, start + size)
        start += size
        size = min(2 * size, _WINDOW_FILES)
