"""What the producer writes to PostgreSQL: the run, repositories, files, batches, skips, refusals.

The ledger rides out a PostgreSQL outage (a restart, a failover) for ``database_retry_s``, as the
workers and ``submit --wait`` do, instead of abandoning a run half sent: each write is one
transaction that also sets ``runs.producer_step`` to its number, so after a lost connection the
ledger reconnects, reads how far the run got, and writes again only what had not committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psycopg
from psycopg.types.json import Jsonb

from parsefleet import plumbing
from parsefleet.contract.batch import Batch, FileRef
from parsefleet.contract.errors import StoreUnavailable
from parsefleet.contract.repository_run import RepositoryRun
from parsefleet.plumbing import database
from parsefleet.plumbing.backoff import Backoff
from parsefleet.plumbing.cancellation import forget_commits
from parsefleet.plumbing.database import sql
from parsefleet.plumbing.runs import mark_finished_if_complete

__all__ = ["CRASHED_BEFORE", "UNCHANGED", "Advance", "Counts", "Entry", "Failure", "Indexed", "Ledger", "TargetRow"]

_HERE = Path(__file__).parent
_PLUMBING = Path(plumbing.__file__).parent  # its cancelled_batch.sql: a withdrawn batch's row
_RETRY_MIN_S = 0.25
_RETRY_MAX_S = 5.0
Failure = tuple[FileRef, str, str]  # (file, kind, message)
# A target the producer is done with: (ordinal, target, origin, repository id, files listed, error).
TargetRow = tuple[int, str, str, int | None, int, str | None]
# A run's counts so far: per language (seen, sent), and per (language, reason) files skipped.
Counts = tuple[dict[str, tuple[int, int]], dict[tuple[str, str], int]]


@dataclass(frozen=True)
class Advance:
    """A repository the producer is done reading: its current view moves to what the run recorded
    (``Ledger.advance``), and its ``target`` row, when given, says the run is done with it."""

    repository_id: int
    location: str
    indexed: Indexed
    kept_commits: int
    target: TargetRow | None = None


@dataclass(frozen=True)
class Entry:
    """One window of the producer's work, as ``Ledger.record`` stores it (files of one or more
    repositories). ``position`` is where the producer goes on from: (the last path read of each
    target read in part, stored form, by ordinal; last batch sequence); ``advances`` the
    repositories the window finished."""

    files: Sequence[FileRef]
    batches: Sequence[Batch]
    failures: Sequence[Failure]
    targets: Sequence[TargetRow] = ()
    position: tuple[dict[int, int | str], int] | None = None
    counts: Counts | None = None
    advances: Sequence[Advance] = ()
    # History mode (schema/018_resume.sql): the versions the window read and holds; whether
    # ``batches`` carry held versions (each then gets its batch).
    held: Sequence[FileRef] = ()
    releases: bool = False
    # Files counted as sent that a resumed run could no longer read (refused): neither held nor
    # carried by their batch from now on.
    withdrawn: Sequence[FileRef] = ()


def _figures(items: Sequence[Advance]) -> dict[str, list[object]]:
    """What each repository's commit row says, one array per column (sql/commits_insert.sql)."""
    indexed = [item.indexed for item in items]
    return {
        "repository_ids": [item.repository_id for item in items], "commit_ids": [i.commit_id for i in indexed],
        "modes": [i.mode for i in indexed], "notes": [i.note for i in indexed], "added": [i.added for i in indexed],
        "modified": [i.modified for i in indexed], "deleted": [i.deleted for i in indexed],
        "renamed": [i.renamed for i in indexed], "sent": [i.sent for i in indexed], "known": [i.known for i in indexed],
    }  # fmt: skip


# Why a known blob is skipped: outlined by this parser version before, or it killed a worker.
UNCHANGED = "unchanged"
CRASHED_BEFORE = "crashed-before"
Connection = psycopg.Connection[tuple[object, ...]]
T = TypeVar("T")


@dataclass(frozen=True)
class Indexed(RepositoryRun):
    """What a run did to one repository, and how its current view moves: ``removed`` the paths that
    leave it, ``touched`` the paths whose version may have changed (None: any)."""

    removed: tuple[str, ...] = ()
    touched: tuple[str, ...] | None = None


class Ledger:
    """The producer's writes for one run, each one transaction, on a connection of its own."""

    def __init__(self, database_url: str, run_id: str, retry_s: float) -> None:
        self.database_url = database_url
        self.run_id = run_id
        self.retry_s = retry_s
        self._conn: Connection | None = None
        self._step = 0

    def start(
        self,
        targets: Sequence[str],
        origins: Sequence[str],
        ci: bool,
        bad: Sequence[TargetRow] = (),
        plans: Sequence[dict[str, object]] = (),
    ) -> None:
        """Create the run record, with the targets (and where each was given, and how each is read
        when it was looked at up front), the bad ones failed."""
        params = {
            "run_id": self.run_id, "targets": list(targets), "origins": list(origins), "ci": ci,
            "plans": Jsonb(list(plans)) if plans else None,
        }  # fmt: skip

        def start(conn: Connection) -> None:
            conn.execute(sql(_HERE, "start_run"), params)
            self._target_rows(conn, bad)

        self._write(start)

    def repository(self, name: str) -> tuple[int, str | None]:
        """The id of a repository, created on first sight, and the commit it was last indexed at."""
        row = self._read(lambda conn: conn.execute(sql(_HERE, "repository"), {"root": name}).fetchone())
        assert row is not None
        return int(str(row[0])), None if row[1] is None else str(row[1])

    def repository_id(self, name: str) -> int:
        """Return the id of a repository, creating it on first sight."""
        return self.repository(name)[0]

    def current_view(self, repository_id: int) -> dict[str, bytes]:
        """A repository's files as the store holds them now: path to blob id."""
        params = {"repository_id": repository_id}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "current_view"), params).fetchall())
        return {str(row[0]): bytes(row[1]) for row in rows if isinstance(row[1], bytes | memoryview)}

    def retries(self, repository_id: int, versions: dict[str, str], *, retry_crashed: bool) -> dict[str, bytes]:
        """Files of a repository's current view (path to blob) whose parse under ``versions`` (language
        to parser version) failed for a reason another try may change."""
        params = {
            "repository_id": repository_id, "languages": list(versions), "versions": list(versions.values()),
            "retry_crashed": retry_crashed,
        }  # fmt: skip
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "retry_blobs"), params).fetchall())
        return {str(row[0]): bytes(row[1]) for row in rows if isinstance(row[1], bytes | memoryview)}

    def advance(
        self, repository_id: int, location: str, indexed: Indexed, kept_commits: int, target: TargetRow | None = None
    ) -> None:
        """In one transaction: the removed files leave the current view, the commit is recorded, the
        file versions follow, old commits pass out of retention, the run's ``target`` is done."""

        def advance(conn: Connection) -> None:
            if target is not None:
                self._target_rows(conn, [target])
            self._advance(conn, [Advance(repository_id, location, indexed, kept_commits)])

        self._write(advance)

    def _advance(self, conn: Connection, items: Sequence[Advance]) -> None:
        """Repositories' current views moved (``advance``), inside the caller's transaction: each
        step one statement for all of them (a repository met twice is moved twice, in order)."""
        start = 0
        while start < len(items):
            seen: set[int] = set()
            stop = start
            while stop < len(items) and items[stop].repository_id not in seen:
                seen.add(items[stop].repository_id)
                stop += 1
            self._advance_distinct(conn, items[start:stop])
            start = stop

    def _advance_distinct(self, conn: Connection, items: Sequence[Advance]) -> None:
        for item in items:
            if item.indexed.removed:
                params = {"repository_id": item.repository_id, "paths": list(item.indexed.removed)}
                conn.execute(sql(_HERE, "files_remove"), params)
        ids = [item.repository_id for item in items]
        commits = [item.indexed.commit_id for item in items]
        rows = conn.execute(sql(_HERE, "commits_insert"), {**_figures(items), "run_id": self.run_id}).fetchall()
        seqs = {int(str(repository_id)): int(str(seq)) for repository_id, seq in rows}
        whole = [item.repository_id for item in items if item.indexed.touched is None]
        if whole:
            params = {"repository_ids": whole, "seqs": [seqs[repository_id] for repository_id in whole]}
            conn.execute(sql(_HERE, "versions_close_whole"), params)
            conn.execute(sql(_HERE, "versions_open_whole"), params)
        for item in items:
            if item.indexed.touched is not None:
                key = {"repository_id": item.repository_id, "seq": seqs[item.repository_id]}
                conn.execute(sql(_HERE, "versions_close"), {**key, "paths": list(item.indexed.touched)})
                conn.execute(sql(_HERE, "versions_open_paths"), {**key, "paths": list(item.indexed.touched)})
        where = {
            "repository_ids": ids, "commit_ids": commits, "seqs": [seqs[repository_id] for repository_id in ids],
            "locations": [item.location for item in items],
        }  # fmt: skip
        conn.execute(sql(_HERE, "repositories_indexed"), where)
        kept = {"repository_ids": ids, "kept": [item.kept_commits for item in items]}
        conn.execute(sql(_HERE, "commits_retention"), kept)

    def finish_target(self, target: TargetRow) -> None:
        """A target of the run is done with (failed, or read without a commit to record)."""
        self._write(lambda conn: self._target_rows(conn, [target]))

    def recorded_files(self, repository_id: int) -> dict[str, bytes]:
        """The files of a repository this run has recorded so far: path to blob id (a resumed run)."""
        params = {"repository_id": repository_id, "run_id": self.run_id}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "run_files"), params).fetchall())
        return {str(row[0]): bytes(row[1]) for row in rows if isinstance(row[1], bytes | memoryview)}

    def _target_rows(self, conn: Connection, targets: Sequence[TargetRow]) -> None:
        with conn.cursor().copy(
            "COPY run_targets (run_id, ordinal, target, origin, repository_id, files, error) FROM STDIN"
        ) as copy:
            for row in targets:
                copy.write_row((self.run_id, *row))

    def forget_commits(self) -> None:
        """The run did not finish sending: the repositories it indexed forget their commit."""
        self._write(lambda conn: forget_commits(conn, self.run_id))

    def repositories(self, roots: Mapping[str, str]) -> dict[str, tuple[int, str | None, bool]]:
        """Per name of ``roots`` (name to where this run reads it, kept for the run), the id of its
        repository (created on first sight), the commit it was last indexed at, and whether it was
        created now (it has no files), in one statement whose commit does not wait for the disk
        (sql/commit_lazily.sql)."""
        if not roots:
            return {}
        params = {"roots": list(roots), "locations": list(roots.values()), "run_id": self.run_id}

        def upsert(conn: Connection) -> list[tuple[object, ...]]:
            conn.execute(sql(_HERE, "commit_lazily"))
            return conn.execute(sql(_HERE, "repositories"), params).fetchall()

        rows = self._read(upsert)
        return {
            str(root): (int(str(id_)), None if commit is None else str(commit), bool(created))
            for id_, root, commit, created in rows
        }

    def current_views(self, repository_ids: Sequence[int]) -> dict[int, dict[str, bytes]]:
        """The current views of ``repository_ids`` (see ``current_view``), in one statement."""
        views: dict[int, dict[str, bytes]] = {repository_id: {} for repository_id in repository_ids}
        if not views:
            return views
        params = {"repository_ids": list(views)}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "current_views"), params).fetchall())
        for repository_id, path, blob in rows:
            if isinstance(blob, bytes | memoryview):
                views[int(str(repository_id))][str(path)] = bytes(blob)
        return views

    def failing_targets(self, targets: Sequence[str], failures: int) -> set[str]:
        """The ``targets`` (as given) whose listing failed in ``failures`` or more earlier runs."""
        if not targets:
            return set()
        params = {"targets": list(targets), "failures": failures, "run_id": self.run_id}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "failing_targets"), params).fetchall())
        return {str(row[0]) for row in rows}

    def known(self, parser_version: str, hashes: Iterable[bytes], *, retry_crashed: bool) -> dict[bytes, str]:
        """The hashes among ``hashes`` that ``parser_version`` has dealt with, each with the reason
        to skip it: ``unchanged``, or ``crashed-before`` (it killed a worker; sent again with
        ``retry_crashed``)."""
        params = {"parser_version": parser_version, "hashes": list(hashes), "retry_crashed": retry_crashed}
        if not params["hashes"]:
            return {}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "known_blobs"), params).fetchall())
        return {row[0]: CRASHED_BEFORE if row[1] else UNCHANGED for row in rows if isinstance(row[0], bytes)}

    def record(self, entry: Entry) -> None:
        """Store one window of the producer's work in one transaction (bulk, with COPY): its files
        (each with the batch that carries it), batches, refusals, finished targets, the run's counts
        so far and where the producer goes on from."""

        def record(conn: Connection) -> None:
            self._record(conn, entry)
            self._advance(conn, entry.advances)
            self._target_rows(conn, [*entry.targets, *(item.target for item in entry.advances if item.target)])
            if entry.counts is not None:
                self._write_counts(conn, entry.counts)
            if entry.position is not None:
                offsets, sequence = entry.position
                params = {"run_id": self.run_id, "offsets": Jsonb(offsets), "sequence": sequence}
                conn.execute(sql(_HERE, "window_position"), params)

        self._write(record)

    def finish(self, batches_total: int, counts: Counts) -> None:
        """Store the run's input counts and skips, and mark it submitted."""

        def finish(conn: Connection) -> None:
            self._write_counts(conn, counts)
            conn.execute(sql(_HERE, "finish_submit"), {"run_id": self.run_id, "batches_total": batches_total})
            conn.execute(sql(_HERE, "run_scratch_clear"), {"run_id": self.run_id})

        self._write(finish)

    def resumed(self, step: int) -> None:
        """Go on from the ledger's committed ``step`` (a resumed run)."""
        self._step = step

    def read(self, name: str, params: dict[str, object]) -> list[tuple[object, ...]]:
        """The rows of the producer's query ``sql/<name>.sql`` (resuming a run)."""
        return self._read(lambda conn: conn.execute(sql(_HERE, name), params).fetchall())

    def cancel_batches(self, batches: Sequence[tuple[str, str, int]]) -> None:
        """Give each of ``batches`` (id, language, files), recorded but never sent, a result row whose
        files are cancelled (an interrupted run)."""

        def cancel(conn: Connection) -> None:
            for batch_id, language, files in batches:
                params = {"batch_id": batch_id, "run_id": self.run_id, "language": language, "files": files}
                conn.execute(sql(_PLUMBING, "cancelled_batch"), params)

        self._write(cancel)

    def _write_counts(self, conn: Connection, counts: Counts) -> None:
        inputs, skips = counts
        conn.execute(sql(_HERE, "inputs_clear"), {"run_id": self.run_id})
        conn.execute(sql(_HERE, "skips_clear"), {"run_id": self.run_id})
        with conn.cursor().copy("COPY run_inputs (run_id, language, seen, sent) FROM STDIN") as copy:
            for language, (seen, sent) in sorted(inputs.items()):
                copy.write_row((self.run_id, language, seen, sent))
        with conn.cursor().copy("COPY run_skips (run_id, language, reason, files) FROM STDIN") as copy:
            for (language, reason), count in sorted(skips.items()):
                copy.write_row((self.run_id, language, reason, count))

    def mark_finished_if_complete(self) -> None:
        """Finish the run now if its workers were done before it was submitted."""
        self._read(lambda conn: mark_finished_if_complete(conn, self.run_id))

    def close(self) -> None:
        """Drop the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _record(self, conn: Connection, entry: Entry) -> None:
        now = datetime.now(UTC)
        carried = {
            (item.ref.repository_id, item.ref.path): batch.batch_id for batch in entry.batches for item in batch.files
        }
        conn.execute(sql(_HERE, "files_stage"))
        with conn.cursor().copy(
            "COPY files_stage (repository_id, path, blob_hash, language, last_run_id, batch_id, size_bytes) FROM STDIN"
        ) as copy:
            for ref in entry.files:
                batch_id = carried.get((ref.repository_id, ref.path))
                row = (ref.repository_id, ref.path, ref.blob_hash, ref.language, self.run_id, batch_id, ref.size_bytes)
                copy.write_row(row)
        conn.execute(sql(_HERE, "files_upsert"))
        self._record_held(conn, entry)
        with conn.cursor().copy(
            "COPY batches (id, run_id, language, files, size_bytes, enqueued_at) FROM STDIN"
        ) as copy:
            for batch in entry.batches:
                copy.write_row((batch.batch_id, self.run_id, batch.language, len(batch.files), batch.size_bytes, now))
        with conn.cursor().copy(
            "COPY parse_failures (time, run_id, repository_id, path, blob_hash, language, kind, message) FROM STDIN"
        ) as copy:
            for ref, kind, message in entry.failures:
                copy.write_row(
                    (now, self.run_id, ref.repository_id, ref.path, ref.blob_hash or None, ref.language, kind, message)
                )

    def _record_held(self, conn: Connection, entry: Entry) -> None:
        """The held versions of ``entry`` (history mode): those read, those batched; and the files
        withdrawn (refused by a resumed run)."""
        if entry.held:
            with conn.cursor().copy(
                "COPY run_held (run_id, repository_id, path, blob_hash, language, size_bytes) FROM STDIN"
            ) as copy:
                for ref in entry.held:
                    copy.write_row(
                        (self.run_id, ref.repository_id, ref.path, ref.blob_hash, ref.language, ref.size_bytes)
                    )
        rows: list[tuple[FileRef, str | None]] = [(ref, None) for ref in entry.withdrawn]
        if entry.releases:
            rows += [(item.ref, batch.batch_id) for batch in entry.batches for item in batch.files]
        if not rows:
            return
        conn.execute(sql(_HERE, "held_stage"))
        with conn.cursor().copy(
            "COPY held_stage (repository_id, path, language, blob_hash, batch_id) FROM STDIN"
        ) as copy:
            for ref, batch_id in rows:
                copy.write_row((ref.repository_id, ref.path, ref.language, ref.blob_hash, batch_id))
        conn.execute(sql(_HERE, "held_batched"), {"run_id": self.run_id})
        conn.execute(sql(_HERE, "carried_refused"), {"run_id": self.run_id})

    def _write(self, action: Callable[[Connection], object]) -> None:
        """Run ``action`` as the run's next step, in one transaction that records the step; after a
        lost connection, run it again only if that step had not committed."""
        self._step += 1
        step = {"run_id": self.run_id, "step": self._step}

        def once(conn: Connection, retried: bool) -> None:
            with conn.transaction():
                done = conn.execute(sql(_HERE, "producer_step"), step).fetchone() if retried else None
                if done is not None and int(str(done[0])) >= self._step:
                    return
                action(conn)
                conn.execute(sql(_HERE, "step_done"), step)

        self._attempt(once)

    def _read(self, action: Callable[[Connection], T]) -> T:
        """``action``'s result, in a transaction of its own (safe to repeat: it writes nothing twice)."""

        def once(conn: Connection, _retried: bool) -> T:
            with conn.transaction():
                return action(conn)

        return self._attempt(once)

    def _attempt(self, once: Callable[[Connection, bool], T]) -> T:
        """``once(connection, retried)``, again on a new connection while PostgreSQL is unreachable,
        for up to ``retry_s``."""
        backoff = Backoff(self.retry_s, _RETRY_MIN_S, _RETRY_MAX_S)
        while True:
            try:
                with database.translated(self.database_url):
                    self._conn = self._conn or database.connect(self.database_url)
                    return once(self._conn, backoff.pauses > 0)
            except StoreUnavailable as exc:
                self.close()
                backoff.pause(exc)
