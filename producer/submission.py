"""One run of the producer: targets in, batches on Redis, the run's accounting in PostgreSQL.

Every file with a supported extension that the producer sees ends in exactly one of: sent in a
batch (the worker then records it parsed or failed), skipped (counted by reason) or refused
(a failure recorded here: ``too-large``, ``unreadable``).

Targets are read in turn (round robin): up to ``_TURN_TARGETS`` targets at once, each turn one
slice of a target's listing (64 files, doubling to 1,000), the next listing taken in as soon as
it is ready; so a monorepo cannot hold back the small repositories behind it, which are read
(often in one turn each) between its slices. Slices of several targets make one window, recorded
in one transaction and sent as batches that mix the repositories of a language; the window that
reads a repository's last slice also moves its current view and marks its target done.

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
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import BrokerUnavailable, ParsefleetError
from parsefleet.contract.languages import LANGUAGES, language_for
from parsefleet.contract.paths import printable, to_bytes, to_text
from parsefleet.contract.settings import Settings
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import Outbox
from parsefleet.producer.chunk import BatchSizer, Chunker
from parsefleet.producer.commits import compared, from_changes, since
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.lease import ProducerLease
from parsefleet.producer.records import Advance, Counts, Entry, Failure, Indexed, Ledger, TargetRow
from parsefleet.producer.resume import Carried, Point, batch_files, held_refs, held_versions, load_point, open_batches
from parsefleet.producer.snapshot import Snapshot
from parsefleet.producer.targets import Listing, Target, TargetStream
from parsefleet.producer.tree import GitRepository, TreeEntry, open_repository
from parsefleet.producer.walk import VENDORED_DIRS, HardLinked, LinkOnPath, Listed, SourceReader, is_generated

__all__ = ["KNOWN_REASONS", "RepositoryLine", "Submission", "Tally", "blob_hash"]

log = logging.getLogger(__name__)
# Files are read, hashed, checked against the known blobs and recorded a window at a time. The
# first window is small so that the first batch leaves early (reading and hashing 1,000 files took
# ~0.2 s before the workers had anything to do); windows double from there up to _WINDOW_FILES.
# A target's listing is read in slices of the same sizes, one slice a turn; a listing of at most
# _ONE_WINDOW_FILES (a nightly run's changes) is one slice: read in 10 to 20 ms, it would gain
# nothing from the split but a git process and batches more.
_WINDOW_FILES = 1000
_FIRST_WINDOW_FILES = 64
_ONE_WINDOW_FILES = 256
# History mode: the versions of each file that the commits of a history introduce are held, commit
# after commit, and batched together in commit order once the history's last commit is recorded
# (or _HELD_MAX_BYTES of them are held), so that a worker re-parses each from the previous version's
# tree (workers/outcome.py). Each commit's files are recorded as usual (without a batch); the held
# batches are recorded afterwards with the files of the current view that they carry, then sent.
_HELD_MAX_BYTES = 32 * 1024 * 1024
_TURN_TARGETS = 16  # targets read in turn at once (each holds its listing and an open directory)
# Listings are taken in (their repositories looked up in one statement) in groups, not one by one as
# turns end: once half the turns are free; with no target in turn, the next listing is waited for,
# then those made within this long of it.
_GATHER_S = 0.02
_FAILED_RUNS_LAST = 2  # a target whose listing failed in this many earlier runs is read last
_REGULAR_MODE = "100644"  # a file sent again from the current view: git's mode is not stored
# Skip reasons of a file whose blob the store (or this run) already has: not sent.
KNOWN_REASONS = frozenset({"unchanged", "duplicate", "crashed-before"})


def blob_hash(content: bytes) -> bytes:
    """The git blob id of ``content`` (so a clean checkout's hashes match ``git ls-files -s``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).digest()


@dataclass(frozen=True)
class RepositoryLine:
    """What a run did to one repository (its report line)."""

    name: str
    indexed: Indexed


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
    repositories: list[RepositoryLine] = field(default_factory=list)
    targets: int = 0  # given (a resumed run: left to do)
    targets_read: int = 0  # done with: read, or failed

    def skip(self, language: str, reason: str) -> None:
        """Count one skipped file."""
        self.skipped[language, reason] += 1

    def sent_and_known(self) -> tuple[int, int]:
        """Files sent so far, and files not sent because their blob was known."""
        known = sum(count for (_language, reason), count in self.skipped.items() if reason in KNOWN_REASONS)
        return sum(self.sent.values()), known


@dataclass
class _Cursor:
    """A target being read in turn, and the files of it recorded so far (path to blob)."""

    target: Target
    name: str | None = None  # its repository's (None: a failed listing)
    recorded: dict[str, bytes] = field(default_factory=dict)
    # its repository's id and indexed commit, and the current view when the run compares with it
    repository: tuple[int, str | None, dict[str, bytes] | None] = (0, None, None)


@dataclass(frozen=True)
class _Read:
    """A repository read to its end: ``indexed`` says how its current view moves (called once the
    window's blobs are known)."""

    name: str
    root: Path
    repository_id: int
    indexed: Callable[[], Indexed]
    row: TargetRow
    history_last: bool = False  # the last commit of a history (history mode)


@dataclass(frozen=True)
class _TreeSlice:
    """A slice of a git listing in the window: the files accepted by name and mode, to be looked up
    and read with the window, and where its repository's recorded files are kept."""

    repository: GitRepository
    recorded: dict[str, bytes]
    accepted: list[FileRef]
    held: bool = False  # history mode: the versions read are held, not batched (Submission._hold)


@dataclass
class _Window:
    """What the producer read since it last recorded: files (``fresh``: read from disk, their blobs
    not yet looked up; ``trees``: slices from git, not yet looked up nor read), refusals, targets
    done with, repositories read to their end, and ``read``, the listing entries taken."""

    files: list[FileRef] = field(default_factory=list)
    fresh: list[BatchFile] = field(default_factory=list)
    trees: list[_TreeSlice] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    targets: list[TargetRow] = field(default_factory=list)
    finished: list[_Read] = field(default_factory=list)
    read: int = 0

    @property
    def empty(self) -> bool:
        """Whether there is nothing to record."""
        return not (self.read or self.targets or self.finished)


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
        priority: int = 0,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        self.redis_url = redis_url
        self.ci = ci if resume is None else resume.ci
        self.progress = progress or (lambda _tally: None)
        self.resume = resume
        self.priority = priority  # against other producers running (producer/lease.py)
        self.tally = Tally(str(uuid.uuid4()) if resume is None else resume.run_id)
        self._met: set[tuple[str, bytes]] = set()  # (language, blob hash) of every blob read in this run
        sizer = BatchSizer(settings.batch_max_bytes, settings.batch_target_ms)
        self._chunker = Chunker(self.tally.run_id, settings.batch_max_bytes, settings.batch_max_files, sizer)
        if resume is not None:
            self._restore(resume)
        # The window being read (not yet recorded), its size, and the batches recorded and not yet sent.
        self._window = _Window()
        self._window_files = _FIRST_WINDOW_FILES
        self._unsent: list[Batch] = []
        # History mode: versions read and not yet batched, by (repository id, path), in commit order;
        # those of the window being read join them once it is recorded.
        self._held: dict[tuple[int, str], list[BatchFile]] = {}
        self._held_bytes = 0
        self._held_window: list[BatchFile] = []
        # Where the producer is: the target of this turn, and the last path read of each target read in part.
        self._cursor: _Cursor | None = None
        self._waiting: Listing | None = None  # a listing taken that waits for its repository (``_admit``)
        self._partial: dict[int, int | str] = {} if resume is None else dict(resume.offsets)
        # Per repository id, files sent and files not sent because their blob was known (its report line).
        self._repository_sent: Counter[int] = Counter()
        self._repository_known: Counter[int] = Counter()

    def run(self, stream: TargetStream) -> Tally:
        """Filter, batch and enqueue the files of every target of ``stream``; return the tally."""
        ledger = Ledger(self.database_url, self.tally.run_id, self.settings.database_retry_s)
        lease = ProducerLease(self.redis_url, self.tally.run_id, self.settings.heartbeat_s, priority=self.priority)
        enqueuer = Enqueuer(self.settings, self.redis_url, outranked=lease.outranked)
        lease.start()
        try:
            if self.resume is None:
                self._start(ledger, stream)
            elif not self._resumed(ledger, enqueuer):
                return self.tally
            self._read_in_turn(ledger, enqueuer, stream)
            self._send(ledger, enqueuer)
            self._release(ledger, enqueuer)
            self._finish(ledger)
            ledger.mark_finished_if_complete()
        except (KeyboardInterrupt, SystemExit):
            self._abandon(ledger)
            raise
        except BrokerUnavailable:  # past its retry budget; PostgreSQL is still there to tell
            self._forget_commits(ledger)
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
        plans = [plan.stored() for plan in stream.plans]
        ledger.start(names, [target.origin for target in targets], self.ci, bad, plans)
        self.tally.targets, self.tally.targets_read = len(targets), len(bad)

    def _restore(self, point: Point) -> None:
        self.tally.seen, self.tally.sent = Counter(point.seen), Counter(point.sent)
        self.tally.skipped, self.tally.refused = Counter(point.skipped), Counter(point.refused)
        self.tally.batches, self.tally.submitted = point.batches, point.submitted
        self._met = set(point.met)
        self._chunker.sequence = point.sequence

    def _resumed(self, ledger: Ledger, enqueuer: Enqueuer) -> bool:
        """Go on from the resume point: send the batches recorded and never sent, and hold again the
        versions held (their blobs read from git together, one ``cat-file`` per repository); False
        when the run had been submitted already (nothing to do)."""
        assert self.resume is not None
        ledger.resumed(self.resume.step)
        if self.resume.submitted:
            ledger.mark_finished_if_complete()
            return False
        failures: list[Failure] = []
        recorded = [
            (batch_id, language, batch_files(ledger, batch_id)) for batch_id, language, _ in self._never_sent(ledger)
        ]
        versions = held_versions(ledger)
        contents = _from_git([item for _id, _language, carried in recorded for item in carried] + versions)
        rebuilt = [self._rebuilt(*batch, contents, failures) for batch in recorded]
        self._hold_again(versions, contents, failures)
        if failures:  # recorded before anything is sent: a second resume does not refuse them again
            withdrawn = [ref for ref, _kind, _message in failures]
            ledger.record(Entry((), (), failures, counts=self._counts(), withdrawn=withdrawn))
        empty = [(batch.batch_id, batch.language, 0) for batch in rebuilt if not batch.files]
        if empty:  # nothing of them can be read any more
            ledger.cancel_batches(empty)
        for batch in rebuilt:
            if batch.files:
                enqueuer.send(batch)
        self.tally.targets = len(self.resume.targets)
        log.info("resumed run %s: %d targets to go", self.tally.run_id, len(self.resume.targets))
        return True

    def _never_sent(self, ledger: Ledger) -> list[tuple[str, str, int]]:
        """The run's recorded batches that are neither on Redis (the outbox) nor done."""
        waiting = open_batches(ledger)
        kept = _kept(self.redis_url, [batch_id for batch_id, _language, _files in waiting])
        return [batch for batch in waiting if batch[0] not in kept]

    def _rebuilt(
        self,
        batch_id: str,
        language: str,
        carried: list[Carried],
        contents: dict[tuple[Path, bytes], bytes],
        failures: list[Failure],
    ) -> Batch:
        """A recorded batch made again from its files: from git by blob id where the repository is a
        git repository holding the blob, else (not a held version of history mode, which is one
        commit's) from the disk as it is now; a file that can no longer be read is refused
        (``unreadable``, added to ``failures``) instead of sent."""
        files = []
        for root, repository_id, path, file_language, blob, held in carried:
            content = contents.get((root, blob))
            if content is None and not held:
                content = self._from_disk(root, path)
            if content is None:
                failures.append(self._unreadable(FileRef(repository_id, path, blob, file_language, 0)))
            else:
                ref = FileRef(repository_id, path, blob_hash(content), file_language, len(content))
                files.append(BatchFile(ref, content))
        return Batch(batch_id, self.tally.run_id, language, tuple(files))

    def _hold_again(
        self, versions: list[Carried], contents: dict[tuple[Path, bytes], bytes], failures: list[Failure]
    ) -> None:
        """History mode: the versions the stopped producer held are held again, read by blob id from
        their repository; one that can no longer be read is refused (added to ``failures``)."""
        for root, repository_id, path, language, blob, _held in versions:
            content = contents.get((root, blob))
            if content is None:
                failures.append(self._unreadable(FileRef(repository_id, path, blob, language, 0)))
            else:
                ref = FileRef(repository_id, path, blob, language, len(content))
                self._held.setdefault((repository_id, path), []).append(BatchFile(ref, content))
                self._held_bytes += len(content)

    def _unreadable(self, ref: FileRef) -> Failure:
        """A file counted as sent that a resumed run can no longer read: refused instead."""
        self.tally.sent[ref.language] -= 1
        self.tally.refused[ref.language, "unreadable"] += 1
        return (ref, "unreadable", "no longer readable where the run reads its repository")

    def _from_disk(self, root: Path, path: str) -> bytes | None:
        try:
            with SourceReader(root, follow_hardlinks=self.settings.follow_hardlinks) as reader:
                return reader.read(os.fsdecode(to_bytes(path)), self.settings.max_file_bytes)
        except OSError:
            return None

    def _read_in_turn(self, ledger: Ledger, enqueuer: Enqueuer, stream: TargetStream) -> None:
        """Read the targets of ``stream`` in turn (module docstring), a slice of one target a turn;
        record and send the window once it holds ``_window_files`` files, and before waiting for a
        listing."""
        turns: deque[tuple[_Cursor, Iterator[bool]]] = deque()
        given = {to_text(str(target.path)): target.ordinal for target in stream.targets if target.bad is None}
        failing = ledger.failing_targets(sorted(given), _FAILED_RUNS_LAST)
        stream.put_last({given[target] for target in failing})
        self._chunker.sizer.rates = enqueuer.parse_rates()  # batches sized by time (producer.chunk)
        while True:
            self._admit(ledger, enqueuer, stream, turns)
            if not turns:
                return
            cursor, steps = turns.popleft()
            self._cursor = cursor
            if next(steps, False):
                turns.append((cursor, steps))
            if self._window.read >= self._window_files:
                self._send(ledger, enqueuer)

    def _admit(
        self, ledger: Ledger, enqueuer: Enqueuer, stream: TargetStream, turns: deque[tuple[_Cursor, Iterator[bool]]]
    ) -> None:
        """Take in the listings that are ready once half the turns are free (waited for, when no
        target is in turn: the next, and those made within ``_GATHER_S`` of it), their repositories
        looked up together. A repository is read by one target at a time, each from what the one
        before recorded (the commits of ``--history``): a listing of a repository being read waits,
        and the listings after it with it, until that target is done."""
        if len(turns) > _TURN_TARGETS // 2:
            return
        taken: list[tuple[_Cursor, Listing]] = []
        gather, gather_until_s = not turns, 0.0
        while len(turns) + len(taken) < _TURN_TARGETS:
            gather_s = max(0.0, gather_until_s - time.monotonic()) if gather and taken else 0.0
            listing = self._next_listing(ledger, enqueuer, stream, wait=not (turns or taken), gather_s=gather_s)
            if listing is None:
                break
            name = None if listing.snapshot is None else listing.snapshot.name
            if name is not None and name in {cursor.name for cursor, _steps in [*turns, *taken]}:
                self._waiting = listing
                break
            if name is not None and name in {read.name for read in self._window.finished}:
                self._send(ledger, enqueuer)  # its repository's last target must be recorded first
            taken.append((_Cursor(listing.target, name), listing))
            gather_until_s = gather_until_s or time.monotonic() + _GATHER_S
        self._look_up(ledger, taken)
        turns.extend((cursor, self._listing_steps(ledger, cursor, listing)) for cursor, listing in taken)

    def _next_listing(
        self, ledger: Ledger, enqueuer: Enqueuer, stream: TargetStream, *, wait: bool, gather_s: float = 0.0
    ) -> Listing | None:
        """The listing that waits for its repository, else the stream's next if it is ready within
        ``gather_s`` or ``wait`` (what is read is sent before waiting); None when there is none."""
        if self._waiting is not None:
            listing, self._waiting = self._waiting, None
            return listing
        if not stream.ready(gather_s):
            if not wait:
                return None
            self._send(ledger, enqueuer)
        return stream.next_listing()

    def _look_up(self, ledger: Ledger, taken: list[tuple[_Cursor, Listing]]) -> None:
        """The repositories of listings taken in together, in two statements: their ids and indexed
        commits, and the current views that a whole listing is compared with (a directory read as it
        is, a repository's first run; none for a repository created now); the others are read when
        needed."""
        snapshots = [listing.snapshot for _cursor, listing in taken if listing.snapshot is not None]
        found = ledger.repositories({snapshot.name: to_text(str(snapshot.root)) for snapshot in snapshots})
        whole = [found[snapshot.name] for snapshot in snapshots if _whole(snapshot, found[snapshot.name][1])]
        views = ledger.current_views(
            sorted({repository_id for repository_id, _commit, created in whole if not created})
        )
        views.update({repository_id: {} for repository_id, _commit, created in whole if created})  # no files yet
        for cursor, listing in taken:
            if listing.snapshot is not None:
                repository_id, commit, _created = found[listing.snapshot.name]
                cursor.repository = (repository_id, commit, views.get(repository_id))

    def _listing_steps(self, ledger: Ledger, cursor: _Cursor, listing: Listing) -> Iterator[bool]:
        """One target, a slice a turn: failed (its error recorded), or its snapshot read."""
        if listing.snapshot is None:
            self._window.targets.append(_target_row(listing.target, None, 0, listing.error))
            return
        yield from self._snapshot_steps(ledger, cursor, listing.snapshot)
        self._partial.pop(listing.target.ordinal, None)

    def _snapshot_steps(self, ledger: Ledger, cursor: _Cursor, snapshot: Snapshot) -> Iterator[bool]:
        """One repository's files read, a slice a turn; the window of its last slice moves its
        current view to what this run recorded."""
        repository_id, indexed_commit, view = cursor.repository
        # a target read in part before (a resumed run): what it recorded counts as recorded now
        cursor.recorded = ledger.recorded_files(repository_id) if self._read_before() else {}
        if snapshot.refresh:
            yield from self._refresh(ledger, snapshot, repository_id)
            self._window.targets.append(self._row(repository_id, snapshot.files))
            return
        indexed: Callable[[], Indexed]
        listed = snapshot.files
        if snapshot.repository is None or snapshot.commit is None:
            stored = ledger.current_view(repository_id) if view is None else view
            yield from self._walked_steps(snapshot.root, repository_id, snapshot.walked)
            indexed = partial(compared, stored, cursor.recorded, None, snapshot.note)
        else:
            changes = since(snapshot, indexed_commit)
            if changes.changes is None:
                stored = ledger.current_view(repository_id) if view is None else view
                tree = snapshot.listing()  # the whole tree, listed only by a run that compares it
                listed = len(tree)
                yield from self._tree_steps(snapshot.repository, repository_id, tree)
                indexed = partial(compared, stored, cursor.recorded, snapshot.commit, changes.note)
            else:
                entries = [change.entry for change in changes.changes if change.entry is not None]
                entries += self._retried(ledger, repository_id, {to_text(entry.path) for entry in entries})
                entries.sort(key=_path_bytes)  # in path order, as a resumed run goes on (``_resumed_at``)
                listed = len(entries)  # what changed: the tree itself is never listed
                held = snapshot.history_left is not None
                yield from self._tree_steps(snapshot.repository, repository_id, entries, held=held)
                indexed = partial(from_changes, changes.changes, cursor.recorded, snapshot.commit, changes.note)
        row = self._row(repository_id, listed)
        last = snapshot.history_left == 0  # a history's last commit: its held versions can leave
        self._window.finished.append(_Read(snapshot.name, snapshot.root, repository_id, indexed, row, last))

    def _forget_commits(self, ledger: Ledger) -> None:
        """The run failed (Redis gone past its retry budget) before sending all: the repositories it
        advanced forget their commit, so that their next run sends what this one did not. Best
        effort: the error that stopped the run is the one raised."""
        try:
            ledger.close()
            ledger.forget_commits()
        except ParsefleetError as exc:
            log.warning("run %s: the indexed commits could not be forgotten: %s", self.tally.run_id, exc)

    def _retried(self, ledger: Ledger, repository_id: int, changed: set[str]) -> list[TreeEntry]:
        """Unchanged files of the current view whose last parse failed for a reason another try may
        change (timeout, memory): an incremental run sends them again, as a full one would."""
        versions = {language: parser_version(language) for language in LANGUAGES}
        failed = ledger.retries(repository_id, versions, retry_crashed=self.settings.retry_crashed)
        return [
            TreeEntry(os.fsdecode(to_bytes(path)), _REGULAR_MODE, blob)
            for path, blob in sorted(failed.items())
            if path not in changed
        ]

    def _refresh(self, ledger: Ledger, snapshot: Snapshot, repository_id: int) -> Iterator[bool]:
        """Files parsed again (``parsefleet reindex``); the repository's current view and commit stay."""
        if snapshot.repository is not None:
            yield from self._tree_steps(snapshot.repository, repository_id, snapshot.tree)
        else:
            yield from self._walked_steps(snapshot.root, repository_id, snapshot.walked)
        log.info("reindexed %s: %d files", printable(snapshot.name), snapshot.files)

    def _walked_steps(self, root: Path, repository_id: int, listed: list[Listed]) -> Iterator[bool]:
        """Files read from the disk, a slice a turn (a step ends between slices, never after the last)."""
        with SourceReader(root, follow_hardlinks=self.settings.follow_hardlinks) as reader:
            for number, (start, stop) in enumerate(_windows(len(listed), self._resumed_at(listed))):
                if number:
                    yield True
                self._read_window(reader, repository_id, listed[start:stop])
                self._taken(listed, start, stop)

    def _tree_steps(
        self, repository: GitRepository, repository_id: int, entries: list[TreeEntry], *, held: bool = False
    ) -> Iterator[bool]:
        """Files read from git, a slice a turn (a step ends between slices, never after the last);
        ``held``: the versions a commit of a history introduced, held (history mode)."""
        for number, (start, stop) in enumerate(_windows(len(entries), self._resumed_at(entries))):
            if number:
                yield True
            self._tree_window(repository, repository_id, entries[start:stop], held)
            self._taken(entries, start, stop)

    def _taken(self, listing: Sequence[Listed] | Sequence[TreeEntry], start: int, stop: int) -> None:
        """Files ``start`` to ``stop`` of the current target's listing are in the window: the
        position to go on from is the last one's path."""
        assert self._cursor is not None
        self._partial[self._cursor.target.ordinal] = to_text(os.fsencode(listing[stop - 1].path))
        self._window.read += stop - start

    def _tree_window(self, repository: GitRepository, repository_id: int, entries: list[TreeEntry], held: bool) -> None:
        """Files from git, skipped by name and mode now; the others looked up, read and sent with the
        window (``_read_trees``)."""
        assert self._cursor is not None
        window = self._window
        accepted = [ref for ref in (self._accepted_entry(repository_id, entry, window) for entry in entries) if ref]
        window.trees.append(_TreeSlice(repository, self._cursor.recorded, accepted, held))

    def _read_trees(self, ledger: Ledger, window: _Window) -> None:
        """The window's slices from git: their blobs looked up together (one query a language); in each
        slice, known blobs left unread (not even sized), the others sized with one ``cat-file
        --batch-check`` (refused when too large), read with one ``cat-file --batch`` and sent."""
        wanted = self._unknown(ledger, [ref for part in window.trees for ref in part.accepted])
        start = 0
        for part in window.trees:
            stop = start + len(part.accepted)
            self._read_tree(window, part, {index - start for index in wanted if start <= index < stop})
            start = stop

    def _read_tree(self, window: _Window, part: _TreeSlice, wanted: set[int]) -> None:
        accepted, repository, limit = part.accepted, part.repository, self.settings.max_file_bytes
        sized = {accepted[index].blob_hash: accepted[index].size_bytes for index in wanted}  # diff-tree sized some
        read = repository.blobs((blob for blob, size in sized.items() if size <= limit), limit)
        sizes = {**sized, **{blob: size for blob, (size, _content) in read.items()}}
        readable = {
            index for index in wanted if self._fits(window, accepted, index, sizes.get(accepted[index].blob_hash))
        }
        contents = {blob: content for blob, (_size, content) in read.items() if content is not None}
        for index, ref in enumerate(accepted):
            if index not in wanted:
                self._record(window, ref, part.recorded)
            elif index in readable:
                sized_ref = replace(ref, size_bytes=sizes[ref.blob_hash])
                self._read_blob(window, part, sized_ref, contents.get(ref.blob_hash))

    def _fits(self, window: _Window, accepted: list[FileRef], index: int, size: int | None) -> bool:
        """Whether a file to send can be read: its blob exists and is not too large (else refused)."""
        ref = accepted[index]
        if size is not None and size <= self.settings.max_file_bytes:
            return True
        self._unsend(ref)
        if size is None:
            self._refuse(window, ref, "unreadable", "the blob is missing from the repository")
        else:
            limit = self.settings.max_file_bytes
            self._refuse(
                window, replace(ref, blob_hash=b"", size_bytes=size), "too-large", f"larger than {limit} bytes"
            )
        return False

    def _read_blob(self, window: _Window, part: _TreeSlice, ref: FileRef, content: bytes | None) -> None:
        if content is None:
            self._unsend(ref)
            self._refuse(window, ref, "unreadable", "the blob is missing from the repository")
        elif is_generated(content):
            self._unsend(ref)
            self.tally.skip(ref.language, "generated")
        else:
            self._record(window, ref, part.recorded)
            if part.held:
                self._held_window.append(BatchFile(ref, content))
            else:
                self._chunk(BatchFile(ref, content))

    def _accepted_entry(self, repository_id: int, entry: TreeEntry, window: _Window) -> FileRef | None:
        language = language_for(entry.path)
        assert language is not None
        self.tally.seen[language] += 1
        vendored = not self.settings.include_vendored and VENDORED_DIRS.intersection(entry.path.split("/")[:-1])
        skip = "vendored" if vendored else entry.skip
        if skip is not None:
            self.tally.skip(language, skip)
            return None
        return FileRef(repository_id, to_text(entry.path), entry.blob, language, entry.size_bytes or 0)

    def _record(self, window: _Window, ref: FileRef, recorded: dict[str, bytes]) -> None:
        """``ref`` is part of the repository's current view (``recorded``: its files recorded by the run)."""
        window.files.append(ref)
        recorded[ref.path] = ref.blob_hash

    def _unsend(self, ref: FileRef) -> None:
        """A file counted as sent by ``_unknown`` that turned out not to be."""
        self.tally.sent[ref.language] -= 1
        self._repository_sent[ref.repository_id] -= 1

    def _read_window(self, reader: SourceReader, repository_id: int, listed: list[Listed]) -> None:
        window = self._window
        for item in listed:
            self.tally.seen[item.language] += 1
            if item.skip is not None:
                self.tally.skip(item.language, item.skip)
                continue
            self._read_one(reader, repository_id, item, window)

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
        assert self._cursor is not None
        self._record(window, ref, self._cursor.recorded)
        window.fresh.append(BatchFile(ref, content))

    def _refuse(self, window: _Window, ref: FileRef, kind: str, message: str) -> None:
        self.tally.refused[ref.language, kind] += 1
        window.failures.append((ref, kind, message))

    def _batch_fresh(self, ledger: Ledger, window: _Window) -> None:
        wanted = self._unknown(ledger, [item.ref for item in window.fresh])
        for index in sorted(wanted):
            self._chunk(window.fresh[index])

    def _chunk(self, item: BatchFile) -> None:
        full = self._chunker.add(item)
        if full is not None:
            self._unsent.append(full)

    def _hold(self, window: _Window) -> bool:
        """The versions the window read are held from now on; True when the held versions are to
        leave: the window recorded a history's last commit, or too much is held."""
        for item in self._held_window:
            self._held.setdefault((item.ref.repository_id, item.ref.path), []).append(item)
            self._held_bytes += len(item.content)
        self._held_window = []
        return any(read.history_last for read in window.finished) or self._held_bytes >= _HELD_MAX_BYTES

    def _release(self, ledger: Ledger, enqueuer: Enqueuer) -> None:
        """Batch the held versions, each file's together in commit order; record the batches in one
        entry with the files of the current views that they carry (their batch), then send them."""
        if not self._held:
            return
        files, batches = self._batch_held(ledger, self._chunker, self._held)
        position = (dict(self._partial), self._chunker.sequence)
        ledger.record(Entry(files, batches, (), (), position, self._counts(), releases=True))
        self._held, self._held_bytes = {}, 0
        self.tally.batches += len(batches)
        for batch in batches:
            enqueuer.send(batch)

    def _batch_held(
        self, ledger: Ledger, chunker: Chunker, held: dict[tuple[int, str], list[BatchFile]]
    ) -> tuple[list[FileRef], list[Batch]]:
        """The ``held`` versions in batches of ``chunker`` (flushed), and the files of the current
        views that they carry (each file's last version, unless a later commit deleted or moved it)."""
        batches = [batch for versions in held.values() for batch in chunker.add_group(versions)]
        batches += chunker.flush()
        views = {repository_id: ledger.current_view(repository_id) for repository_id in {key[0] for key in held}}
        last = [versions[-1].ref for versions in held.values()]
        return [ref for ref in last if views[ref.repository_id].get(ref.path) == ref.blob_hash], batches

    def _record_held(self, ledger: Ledger) -> None:
        """Record batches of the versions that the ledger holds without a batch (whatever this
        producer had in memory when it was interrupted: a release or a window may have been cut
        short), never to be sent: they are cancelled with the other recorded batches never sent. On a
        chunker of their own, after the last id; the batches carry no content."""
        chunker = Chunker(self.tally.run_id, self.settings.batch_max_bytes, self.settings.batch_max_files)
        chunker.sequence = self._chunker.sequence
        try:
            held: dict[tuple[int, str], list[BatchFile]] = {}
            for ref in held_refs(ledger):
                held.setdefault((ref.repository_id, ref.path), []).append(BatchFile(ref, b""))
            if held:
                files, batches = self._batch_held(ledger, chunker, held)
                position = (dict(self._partial), chunker.sequence)
                ledger.record(Entry(files, batches, (), (), position, releases=True))
        except ParsefleetError as exc:
            log.warning("run %s: the held versions could not be recorded: %s", self.tally.run_id, exc)

    def _unknown(self, ledger: Ledger, refs: list[FileRef]) -> set[int]:
        """The indexes of ``refs`` to send (counted as sent): blobs this run meets for the first time
        and the store does not know; the others are counted as ``duplicate``, ``unchanged`` or
        ``crashed-before``."""
        first = self._first_meetings(refs)
        known = {
            language: ledger.known(
                parser_version(language),
                {refs[index].blob_hash for index in first if refs[index].language == language},
                retry_crashed=self.settings.retry_crashed,
            )
            for language in {refs[index].language for index in first}
        }
        wanted = set()
        for index in first:
            ref = refs[index]
            reason = known[ref.language].get(ref.blob_hash)
            if reason is not None:
                self.tally.skip(ref.language, reason)
                self._repository_known[ref.repository_id] += 1
            else:
                self.tally.sent[ref.language] += 1
                self._repository_sent[ref.repository_id] += 1
                wanted.add(index)
        return wanted

    def _first_meetings(self, refs: list[FileRef]) -> list[int]:
        """The indexes of ``refs`` whose blob this run meets for the first time; the others are
        counted as ``duplicate``."""
        first = []
        for index, ref in enumerate(refs):
            key = (ref.language, ref.blob_hash)
            if key in self._met:
                self.tally.skip(ref.language, "duplicate")
                self._repository_known[ref.repository_id] += 1
            else:
                self._met.add(key)
                first.append(index)
        return first

    def _read_before(self) -> bool:
        """Whether the producer a resumed run follows read the current target in part."""
        return self._cursor is not None and self._cursor.target.ordinal in self._partial

    def _resumed_at(self, listing: Sequence[Listed] | Sequence[TreeEntry]) -> int:
        """Where the current target's listing goes on: after the last path read before (a listing is
        in the byte order of its paths, so a file added or deleted since moves nothing: every file
        the two listings share is read once, a file added behind that path is not in the run); 0 for
        a target not read before. A position recorded as a count of files (a producer of before
        this form) is taken as it is."""
        at = self._partial.get(self._cursor.target.ordinal) if self._cursor is not None else None
        if at is None or isinstance(at, int):
            return at or 0
        return bisect_right(listing, to_bytes(at), key=_path_bytes)

    def _row(self, repository_id: int | None, files: int) -> TargetRow:
        assert self._cursor is not None
        return _target_row(self._cursor.target, repository_id, files, None)

    def _send(self, ledger: Ledger, enqueuer: Enqueuer) -> None:
        """Record the window with its batches, the targets and repositories it finished in one
        transaction, then send the batches: a producer that dies anywhere leaves a state it can be
        resumed from (producer/resume.py). Every window's files leave in its own batches, which mix
        the window's repositories."""
        window = self._window
        if window.empty:
            return
        self._batch_fresh(ledger, window)
        self._read_trees(ledger, window)
        self._unsent.extend(self._chunker.flush())
        advances = [self._advance(read) for read in window.finished]
        position = (dict(self._partial), self._chunker.sequence)
        counts = self._counts()
        held = [item.ref for item in self._held_window]
        ledger.record(
            Entry(window.files, self._unsent, window.failures, window.targets, position, counts, advances, held)
        )
        release = self._hold(window)
        self.tally.batches += len(self._unsent)
        self.tally.targets_read += len(window.targets) + len(window.finished)
        self._window = _Window()
        self._window_files = min(2 * self._window_files, _WINDOW_FILES)
        while self._unsent:
            enqueuer.send(self._unsent[0])
            self._unsent.pop(0)
        for read, advance in zip(window.finished, advances, strict=True):
            self._submitted(read.name, advance.indexed)
        if release:
            self._release(ledger, enqueuer)
        self._chunker.sizer.rates = enqueuer.parse_rates()  # batches sized by time (producer.chunk)
        self.progress(self.tally)

    def _advance(self, read: _Read) -> Advance:
        """How a repository read to its end moves, with what this run sent of it and found known."""
        sent = self._repository_sent.pop(read.repository_id, 0)
        known = self._repository_known.pop(read.repository_id, 0)
        indexed = replace(read.indexed(), sent=sent, known=known)
        return Advance(read.repository_id, to_text(str(read.root)), indexed, self.settings.kept_commits, read.row)

    def _submitted(self, name: str, indexed: Indexed) -> None:
        self.tally.repositories.append(RepositoryLine(name, indexed))
        at = "as it is" if indexed.commit_id is None else f"at {indexed.commit_id[:12]}"
        log.info("submitted %s %s (%s): %d blobs sent", printable(name), at, indexed.mode, indexed.sent)

    def _abandon(self, ledger: Ledger) -> None:
        """Interrupted: the run is submitted with what it had recorded (the caller cancels the
        batches still queued); a recorded batch never sent gets a result whose files are cancelled;
        the files of a window not recorded are not part of the run; the repositories it indexed
        forget their commit."""
        if self.tally.submitted:
            return
        ledger.close()  # its connection may have been cut in the middle of a statement
        self._record_held(ledger)
        point = load_point(ledger)
        ledger.resumed(point.step)
        ledger.forget_commits()
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


def _whole(snapshot: Snapshot, indexed_commit: str | None) -> bool:
    """Whether the run compares a whole snapshot with its repository's current view."""
    if snapshot.refresh:
        return False
    return snapshot.repository is None or snapshot.commit is None or indexed_commit is None


def _target_row(target: Target, repository_id: int | None, files: int, error: str | None) -> TargetRow:
    return (target.ordinal, to_text(str(target.path)), target.origin, repository_id, files, error)


def _from_git(carried: list[Carried]) -> dict[tuple[Path, bytes], bytes]:
    """The blobs of ``carried`` that their repository holds, read by id, one ``cat-file`` per
    repository: (location, blob id) to content."""
    wanted: dict[Path, list[bytes]] = {}
    for root, _repository_id, _path, _language, blob, _held in carried:
        wanted.setdefault(root, []).append(blob)
    contents = {}
    for root, blobs in wanted.items():
        repository = open_repository(root) if root.is_dir() else None
        found = {} if repository is None else repository.contents(blobs)
        contents.update({(root, blob): content for blob, content in found.items()})
    return contents


def _path_bytes(item: Listed | TreeEntry) -> bytes:
    return os.fsencode(item.path)


def _windows(total: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """(start, stop) of each window over ``total`` files from ``start``: _FIRST_WINDOW_FILES,
    doubling to _WINDOW_FILES; one window when no more than _ONE_WINDOW_FILES are left."""
    size = total - start if total - start <= _ONE_WINDOW_FILES else _FIRST_WINDOW_FILES
    while start < total:
        yield start, min(total, start + size)
        start += size
        size = min(2 * size, _WINDOW_FILES)
