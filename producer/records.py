"""What the producer writes to PostgreSQL: the run, repositories, files, batches, skips, refusals.

The ledger rides out a PostgreSQL outage (a restart, a failover) for ``database_retry_s``, as the
workers and ``submit --wait`` do, instead of abandoning a run half sent: each write is one
transaction that also sets ``runs.producer_step`` to its number, so after a lost connection the
ledger reconnects, reads how far the run got, and writes again only what had not committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psycopg

from parsefleet.contract.batch import Batch, FileRef
from parsefleet.contract.errors import StoreUnavailable
from parsefleet.plumbing import database
from parsefleet.plumbing.backoff import Backoff
from parsefleet.plumbing.database import sql
from parsefleet.plumbing.runs import mark_finished_if_complete

__all__ = ["CRASHED_BEFORE", "UNCHANGED", "Failure", "Ledger", "TargetRow"]

_HERE = Path(__file__).parent
_RETRY_MIN_S = 0.25
_RETRY_MAX_S = 5.0
Failure = tuple[FileRef, str, str]  # (file, kind, message)
# A target the producer is done with: (ordinal, target, origin, repository id, files listed, error).
TargetRow = tuple[int, str, str, int | None, int, str | None]
# Why a known blob is skipped: outlined by this parser version before, or it killed a worker.
UNCHANGED = "unchanged"
CRASHED_BEFORE = "crashed-before"
Connection = psycopg.Connection[tuple[object, ...]]
T = TypeVar("T")


class Ledger:
    """The producer's writes for one run, each one transaction, on a connection of its own."""

    def __init__(self, database_url: str, run_id: str, retry_s: float) -> None:
        self.database_url = database_url
        self.run_id = run_id
        self.retry_s = retry_s
        self._conn: Connection | None = None
        self._step = 0

    def start(self, targets: Sequence[str], ci: bool) -> None:
        """Create the run record."""
        params = {"run_id": self.run_id, "targets": list(targets), "ci": ci}
        self._write(lambda conn: conn.execute(sql(_HERE, "start_run"), params))

    def repository_id(self, root: str) -> int:
        """Return the id of a repository, creating it on first sight."""
        row = self._read(lambda conn: conn.execute(sql(_HERE, "repository"), {"root": root}).fetchone())
        assert row is not None
        return int(str(row[0]))

    def repository_ids(self, roots: Sequence[str]) -> dict[str, int]:
        """The ids of the repositories of ``roots`` (one window's), created on first sight, in one
        statement."""
        if not roots:
            return {}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "repositories"), {"roots": list(roots)}).fetchall())
        return {str(root): int(str(repository_id)) for repository_id, root in rows}

    def known(self, parser_version: str, hashes: Iterable[bytes], *, retry_crashed: bool) -> dict[bytes, str]:
        """The hashes among ``hashes`` that ``parser_version`` has dealt with, each with the reason
        to skip it: ``unchanged``, or ``crashed-before`` (it killed a worker; sent again with
        ``retry_crashed``)."""
        params = {"parser_version": parser_version, "hashes": list(hashes), "retry_crashed": retry_crashed}
        if not params["hashes"]:
            return {}
        rows = self._read(lambda conn: conn.execute(sql(_HERE, "known_blobs"), params).fetchall())
        return {row[0]: CRASHED_BEFORE if row[1] else UNCHANGED for row in rows if isinstance(row[0], bytes)}

    def record(
        self,
        files: Sequence[FileRef],
        batches: Sequence[Batch],
        failures: Sequence[Failure],
        targets: Sequence[TargetRow] = (),
    ) -> None:
        """Store one window of the producer's work in one transaction (bulk, with COPY): its files,
        the batches sent, the files refused and the targets it finished."""

        def record(conn: Connection) -> None:
            self._record(conn, files, batches, failures)
            with conn.cursor().copy(
                "COPY run_targets (run_id, ordinal, target, origin, repository_id, files, error) FROM STDIN"
            ) as copy:
                for row in targets:
                    copy.write_row((self.run_id, *row))

        self._write(record)

    def finish(self, batches_total: int, inputs: dict[str, tuple[int, int]], skips: dict[tuple[str, str], int]) -> None:
        """Store the run's input counts and skips, and mark it submitted."""

        def finish(conn: Connection) -> None:
            with conn.cursor().copy("COPY run_inputs (run_id, language, seen, sent) FROM STDIN") as copy:
                for language, (seen, sent) in sorted(inputs.items()):
                    copy.write_row((self.run_id, language, seen, sent))
            with conn.cursor().copy("COPY run_skips (run_id, language, reason, files) FROM STDIN") as copy:
                for (language, reason), count in sorted(skips.items()):
                    copy.write_row((self.run_id, language, reason, count))
            conn.execute(sql(_HERE, "finish_submit"), {"run_id": self.run_id, "batches_total": batches_total})

        self._write(finish)

    def mark_finished_if_complete(self) -> None:
        """Finish the run now if its workers were done before it was submitted."""
        self._read(lambda conn: mark_finished_if_complete(conn, self.run_id))

    def close(self) -> None:
        """Drop the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _record(
        self, conn: Connection, files: Sequence[FileRef], batches: Sequence[Batch], failures: Sequence[Failure]
    ) -> None:
        now = datetime.now(UTC)
        conn.execute(sql(_HERE, "files_stage"))
        with conn.cursor().copy(
            "COPY files_stage (repository_id, path, blob_hash, language, last_run_id) FROM STDIN"
        ) as copy:
            for ref in files:
                copy.write_row((ref.repository_id, ref.path, ref.blob_hash, ref.language, self.run_id))
        conn.execute(sql(_HERE, "files_upsert"))
        with conn.cursor().copy(
            "COPY batches (id, run_id, language, files, size_bytes, enqueued_at) FROM STDIN"
        ) as copy:
            for batch in batches:
                copy.write_row((batch.batch_id, self.run_id, batch.language, len(batch.files), batch.size_bytes, now))
        with conn.cursor().copy(
            "COPY parse_failures (time, run_id, repository_id, path, blob_hash, language, kind, message) FROM STDIN"
        ) as copy:
            for ref, kind, message in failures:
                copy.write_row(
                    (now, self.run_id, ref.repository_id, ref.path, ref.blob_hash or None, ref.language, kind, message)
                )

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
