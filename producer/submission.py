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
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.paths import to_text
from parsefleet.contract.settings import Settings
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import Outbox
from parsefleet.producer.chunk import Chunker
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.records import Failure, Ledger, TargetRow
from parsefleet.producer.targets import Listing, TargetStream
from parsefleet.producer.walk import HardLinked, LinkOnPath, Listed, SourceReader, is_generated

__all__ = ["CANCELLED", "Submission", "Tally", "blob_hash"]

log = logging.getLogger(__name__)
# Files are read, hashed, checked against the known blobs and recorded a window at a time. The
# first window is small so that the first batch leaves early (reading and hashing 1,000 files took
# ~0.2 s before the workers had anything to do); windows double from there up to _WINDOW_FILES.
_WINDOW_FILES = 1000
_FIRST_WINDOW_FILES = 64
# A window gathering files of many small targets is read once this old (if the next listing is not
# ready), so that listing-bound runs still send steadily while writing the ledger a few times a
# second, not once per repository.
_WINDOW_WAIT_S = 0.25
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
    targets: list[TargetRow] = field(default_factory=list)  # the targets this window finished


@dataclass(frozen=True, slots=True)
class _Slice:
    """Files ``start:stop`` of one listing: a window holds slices of one or more targets."""

    listing: Listing
    start: int
    stop: int

    @property
    def last(self) -> bool:
        """Whether this slice ends its target."""
        return self.stop >= len(self.listing.files)


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
        self._chunker = Chunker(self.tally.run_id, settings.batch_max_bytes, settings.batch_max_files)
        # Where the current window is, so that an interrupt anywhere leaves an exact account
        # (``_abandon``): the window being read, batches made and not yet sent, batches sent and
        # not yet recorded.
        self._window: _Window | None = None
        self._unsent: list[Batch] = []
        self._unrecorded: list[Batch] = []

    def run(self, stream: TargetStream) -> Tally:
        """Filter, batch and enqueue the files of every target of ``stream``; return the tally."""
        enqueuer = Enqueuer(self.settings, self.redis_url)
        ledger = Ledger(self.database_url, self.tally.run_id, self.settings.database_retry_s)
        try:
            ledger.start([to_text(os.path.abspath(target.path)) for target in stream.targets], self.ci)
            for number, group in enumerate(_Windows(stream)):
                self._batch_fresh(ledger, self._read_window(ledger, group))
                if number == 0:  # the first batches leave at once, full or not: the workers start
                    self._unsent.extend(self._chunker.flush())
                self._send(ledger, enqueuer)
                self.progress(self.tally)
            self._window = _Window()
            self._unsent.extend(self._chunker.flush())
            self._send(ledger, enqueuer)
            self._finish(ledger)
            ledger.mark_finished_if_complete()
        except (KeyboardInterrupt, SystemExit):
            self._abandon(ledger)
            raise
        finally:
            stream.close()
            ledger.close()
            enqueuer.close()
        return self.tally

    def _read_window(self, ledger: Ledger, group: list[_Slice]) -> _Window:
        """Read the files of one window (parts of one or more targets); the repositories of the
        window are named in one statement."""
        window = self._window = _Window()
        roots = {to_text(str(piece.listing.root)) for piece in group if piece.listing.error is None}
        ids = ledger.repository_ids(sorted(roots))
        for piece in group:
            listing = piece.listing
            repository_id = None if listing.error is not None else ids[to_text(str(listing.root))]
            error = listing.error if repository_id is None else self._read_slice(piece, repository_id, window)
            if piece.last:
                window.targets.append(_target_row(listing, repository_id, error))
                log.info("listed %s: %d files", listing.target.shown, len(listing.files))
        return window

    def _read_slice(self, piece: _Slice, repository_id: int, window: _Window) -> str | None:
        """Read one target's part of a window; the error that kept it from being read, if any (its
        files are then refused as ``unreadable``)."""
        listed = piece.listing.files[piece.start : piece.stop]
        try:
            reader = SourceReader(piece.listing.root, follow_hardlinks=self.settings.follow_hardlinks)
        except OSError as exc:
            message = f"{piece.listing.target.shown}: {exc.strerror or exc}"
            for item in listed:
                self.tally.seen[item.language] += 1
                ref = FileRef(repository_id, to_text(item.path), b"", item.language, 0)
                self._refuse(window, ref, "unreadable", message)
            return message
        with reader:
            for item in listed:
                self.tally.seen[item.language] += 1
                if item.skip is not None:
                    self.tally.skip(item.language, item.skip)
                else:
                    self._read_one(reader, repository_id, item, window)
        return None

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
        ledger.record(window.files, self._unrecorded, window.failures, window.targets)
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
        ledger.record(window.files, self._unrecorded, window.failures, window.targets)
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


def _target_row(listing: Listing, repository_id: int | None, error: str | None) -> TargetRow:
    target = listing.target
    return (target.ordinal, to_text(str(target.path)), target.origin, repository_id, len(listing.files), error)


class _Windows:
    """The files of a stream's targets, a window at a time: _FIRST_WINDOW_FILES, doubling to
    _WINDOW_FILES. A window spans as many targets as it takes to fill it, and a large target spans
    windows. A window is also handed out early rather than wait for a listing that is not ready:
    the first at once, later ones once _WINDOW_WAIT_S old."""

    def __init__(self, stream: TargetStream) -> None:
        self.stream = stream
        self.size = _FIRST_WINDOW_FILES
        self.group: list[_Slice] = []
        self.count = 0
        self.started_s = time.monotonic()

    def __iter__(self) -> Iterator[list[_Slice]]:
        while True:
            if self._early():
                yield self._take()
            listing = self.stream.next_listing()
            if listing is None:
                break
            yield from self._add(listing)
        if self.group:
            yield self._take()

    def _add(self, listing: Listing) -> Iterator[list[_Slice]]:
        start = 0
        while True:
            stop = min(len(listing.files), start + self.size - self.count)
            self.group.append(_Slice(listing, start, stop))
            self.count, start = self.count + stop - start, stop
            if self.count >= self.size:
                yield self._take()
            if start >= len(listing.files):
                return

    def _early(self) -> bool:
        if not self.group or self.stream.ready():
            return False
        return self.size == _FIRST_WINDOW_FILES or time.monotonic() - self.started_s > _WINDOW_WAIT_S

    def _take(self) -> list[_Slice]:
        group = self.group
        self.group, self.count, self.started_s = [], 0, time.monotonic()
        self.size = min(2 * self.size, _WINDOW_FILES)
        return group
