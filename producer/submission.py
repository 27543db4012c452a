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
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.paths import to_bytes, to_text
from parsefleet.contract.settings import Settings
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import Outbox
from parsefleet.producer.chunk import Chunker
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.lease import ProducerLease
from parsefleet.producer.records import Counts, Entry, Failure, Ledger, TargetRow
from parsefleet.producer.resume import Point, batch_files, load_point, open_batches
from parsefleet.producer.targets import Listing, TargetStream
from parsefleet.producer.walk import HardLinked, LinkOnPath, Listed, SourceReader, is_generated

__all__ = ["Submission", "Tally", "blob_hash"]

log = logging.getLogger(__name__)
# Files are read, hashed, checked against the known blobs and recorded a window at a time. The
# first window is small so that the first batch leaves early (reading and hashing 1,000 files took
# ~0.2 s before the workers had anything to do); windows double from there up to _WINDOW_FILES.
_WINDOW_FILES = 1000
_FIRST_WINDOW_FILES = 64
# Fairness (see _Windows): targets read at once, and files of one taken per turn.
_ACTIVE_TARGETS = 8
_TURN_FILES = 64
# A window gathering files of many small targets is read once this old (if the next listing is not
# ready), so that listing-bound runs still send steadily while writing the ledger a few times a
# second, not once per repository.
_WINDOW_WAIT_S = 0.25


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
        resume: Point | None = None,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        self.redis_url = redis_url
        self.ci = ci if resume is None else resume.ci
        self.progress = progress or (lambda _tally: None)
        self.resume = resume
        self.tally = Tally(str(uuid.uuid4()) if resume is None else resume.run_id)
        self._met: set[tuple[str, bytes]] = set()  # (language, blob hash) of every blob read in this run
        self._chunker = Chunker(self.tally.run_id, settings.batch_max_bytes, settings.batch_max_files)
        if resume is not None:
            self._restore(resume)
        # The window being read (not yet recorded), and the batches recorded and not yet sent.
        self._window: _Window | None = None
        self._unsent: list[Batch] = []
        self._partial: dict[int, int] = {} if resume is None else dict(resume.offsets)  # ordinal -> files read

    def run(self, stream: TargetStream) -> Tally:
        """Filter, batch and enqueue the files of every target of ``stream``; return the tally."""
        enqueuer = Enqueuer(self.settings, self.redis_url)
        ledger = Ledger(self.database_url, self.tally.run_id, self.settings.database_retry_s)
        lease = ProducerLease(self.redis_url, self.tally.run_id, self.settings.heartbeat_s)
        lease.start()
        try:
            if self.resume is None:
                self._start(ledger, stream)
            elif not self._resumed(ledger, enqueuer):
                return self.tally
            for group in _Windows(stream, dict(self._partial)):
                self._batch_fresh(ledger, self._read_window(ledger, group))
                self._unsent.extend(self._chunker.flush())  # a window's files leave in its own batches
                self._send(ledger, enqueuer)
                self.progress(self.tally)
            self._finish(ledger)
            ledger.mark_finished_if_complete()
        except (KeyboardInterrupt, SystemExit):
            self._abandon(ledger)
            raise
        finally:
            lease.stop()
            stream.close()
            ledger.close()
            enqueuer.close()
        return self.tally

    def _start(self, ledger: Ledger, stream: TargetStream) -> None:
        targets = stream.targets
        bad = [(t.ordinal, to_text(str(t.path)), t.origin, None, 0, t.bad) for t in targets if t.bad is not None]
        names = [to_text(os.path.abspath(target.path)) for target in targets]
        ledger.start(names, [target.origin for target in targets], self.ci, bad)

    def _restore(self, point: Point) -> None:
        self.tally.seen, self.tally.sent = Counter(point.seen), Counter(point.sent)
        self.tally.skipped, self.tally.refused = Counter(point.skipped), Counter(point.refused)
        self.tally.batches, self.tally.submitted = point.batches, point.submitted
        self._met = set(point.met)
        self._chunker.sequence = point.sequence

    def _resumed(self, ledger: Ledger, enqueuer: Enqueuer) -> bool:
        """Go on from the resume point: send the batches recorded and never sent; False when the
        run had been submitted already (nothing to do)."""
        assert self.resume is not None
        ledger.resumed(self.resume.step)
        if self.resume.submitted:
            ledger.mark_finished_if_complete()
            return False
        for batch_id, language, _files in self._never_sent(ledger):
            enqueuer.send(self._rebuilt(ledger, batch_id, language))
        log.info("resumed run %s: %d targets to go", self.tally.run_id, len(self.resume.targets))
        return True

    def _never_sent(self, ledger: Ledger) -> list[tuple[str, str, int]]:
        """The run's recorded batches that are neither on Redis (the outbox) nor done."""
        waiting = open_batches(ledger)
        kept = _kept(self.redis_url, [batch_id for batch_id, _language, _files in waiting])
        return [batch for batch in waiting if batch[0] not in kept]

    def _rebuilt(self, ledger: Ledger, batch_id: str, language: str) -> Batch:
        """A recorded batch made again from its files as they are now (one that can no longer be read
        is left out: its batch then has fewer files than the run sent)."""
        files = []
        for root, repository_id, path, file_language in batch_files(ledger, batch_id):
            try:
                with SourceReader(root, follow_hardlinks=self.settings.follow_hardlinks) as reader:
                    content = reader.read(os.fsdecode(to_bytes(path)), self.settings.max_file_bytes)
            except OSError:
                content = None
            if content is not None:
                ref = FileRef(repository_id, path, blob_hash(content), file_language, len(content))
                files.append(BatchFile(ref, content))
        return Batch(batch_id, self.tally.run_id, language, tuple(files))

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
            if piece.last:
                self._partial.pop(listing.target.ordinal, None)
            else:
                self._partial[listing.target.ordinal] = piece.stop
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
        """Record the window with its batches in one transaction, then send them: a producer that
        dies anywhere leaves a state it can be resumed from (producer/resume.py)."""
        window = self._window or _Window()
        position = (dict(self._partial), self._chunker.sequence)
        entry = Entry(window.files, self._unsent, window.failures, window.targets, position, self._counts())
        ledger.record(entry)
        self.tally.batches += len(self._unsent)
        self._window = None
        while self._unsent:
            enqueuer.send(self._unsent[0])
            self._unsent.pop(0)

    def _abandon(self, ledger: Ledger) -> None:
        """Interrupted: the run is submitted with what it had recorded (the caller cancels the
        batches still queued); a recorded batch never sent gets a result whose files are cancelled;
        the files of a window not recorded are not part of the run."""
        if self.tally.submitted:
            return
        ledger.close()  # its connection may have been cut in the middle of a statement
        point = load_point(ledger)
        ledger.resumed(point.step)
        self._restore(point)
        ledger.cancel_batches(self._never_sent(ledger))
        self._finish(ledger)

    def _counts(self) -> Counts:
        inputs = {language: (seen, self.tally.sent[language]) for language, seen in self.tally.seen.items()}
        return inputs, dict(self.tally.skipped)

    def _finish(self, ledger: Ledger) -> None:
        ledger.finish(self.tally.batches, self._counts())
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
    _WINDOW_FILES.

    Fair by repository: up to _ACTIVE_TARGETS targets are read at once, round robin, each turn
    taking up to _TURN_FILES files of one; a target that is done gives its place to the next of the
    stream. So a window mixes the files of many small targets, a large one spans windows, and a
    monorepo submitted first holds one place of _ACTIVE_TARGETS while the small targets behind it
    pass through the others. A window is handed out early rather than wait for a listing that is
    not ready while no target is open: the first at once, later ones once _WINDOW_WAIT_S old.
    ``offsets`` (a resumed run's) gives the files of a target's listing already read.
    """

    def __init__(self, stream: TargetStream, offsets: dict[int, int] | None = None) -> None:
        self.stream = stream
        self.offsets = offsets or {}
        self.active: deque[tuple[Listing, int]] = deque()
        self.exhausted = False
        self.size = _FIRST_WINDOW_FILES
        self.group: list[_Slice] = []
        self.count = 0
        self.started_s = time.monotonic()

    def __iter__(self) -> Iterator[list[_Slice]]:
        while True:
            if not self.active and self._early():
                yield self._take()
            self._open_targets()
            if not self.active:
                break  # the stream is exhausted
            listing, start = self.active.popleft()
            stop = min(len(listing.files), start + min(_TURN_FILES, self.size - self.count))
            self.group.append(_Slice(listing, start, stop))
            self.count += stop - start
            if stop < len(listing.files):
                self.active.append((listing, stop))
            if self.count >= self.size:
                yield self._take()
        if self.group:
            yield self._take()

    def _open_targets(self) -> None:
        """Take listings from the stream while places are free; wait for one only when nothing else
        can be read."""
        while not self.exhausted and len(self.active) < _ACTIVE_TARGETS:
            if self.active and not self.stream.ready():
                return
            listing = self.stream.next_listing()
            if listing is None:
                self.exhausted = True
                return
            self.active.append((listing, min(self.offsets.get(listing.target.ordinal, 0), len(listing.files))))

    def _early(self) -> bool:
        """Whether to hand out the window now rather than wait for the next listing."""
        if not self.group or self.exhausted or self.stream.ready():
            return False
        return self.size == _FIRST_WINDOW_FILES or time.monotonic() - self.started_s > _WINDOW_WAIT_S

    def _take(self) -> list[_Slice]:
        group = self.group
        self.group, self.count, self.started_s = [], 0, time.monotonic()
        self.size = min(2 * self.size, _WINDOW_FILES)
        return group
