"""The worker's writes: one batch's outlines, result, timing and failures in one transaction.

Idempotent: the batch_results row is claimed first, in the statement that inserts the blobs only
for a new claim (sql/claim_batch.sql), so a redelivered batch writes nothing twice; blob rows are
keyed by (hash, parser version), so a blob outlined by another batch keeps its first outline.
Symbols and imports go through binary COPY. Per batch: BEGIN, the run's existence, claim and
blobs, two COPYs, the metric row, COMMIT, then the run's completion check (autocommit).

A batch whose run the database does not hold is refused (``UnknownRun``): the worker is pointed at
another database than its producer (plumbing/unknown_runs.py says what happens to the batch). Each
new connection first checks that the schema is this release's (``check_schema``): an older one is
an outage until `parsefleet db migrate`, not a reason to drop batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from parsefleet.contract.batch import Batch
from parsefleet.contract.errors import UnknownRun
from parsefleet.contract.outline import FileStatus
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.database import connect, sql, translated
from parsefleet.plumbing.migrations import check_schema
from parsefleet.plumbing.redaction import shown_url
from parsefleet.plumbing.runs import mark_finished_if_complete
from parsefleet.workers.outcome import BatchOutcome, FileOutcome

__all__ = ["BatchTiming", "Store"]

_HERE = Path(__file__).parent
_SYMBOL_COLUMNS = (
    "blob_hash, parser_version, ordinal, kind, name, qualified_name, parent_ordinal,"
    " start_line, end_line, start_byte, end_byte, visibility, from_macro"
)
_IMPORT_COLUMNS = "blob_hash, parser_version, ordinal, module, name, alias, origin, line"
# Column types of the binary COPYs: the key (blob_hash, parser_version, ordinal), then the fields of
# parsefleet.contract.outline.Symbol and Import in their order (enums are str, and go as their values).
_KEY_TYPES = ["bytea", "text", "int4"]
_SYMBOL_TYPES = [*_KEY_TYPES, "text", "text", "text", "int4", "int4", "int4", "int4", "int4", "text", "bool"]
_IMPORT_TYPES = [*_KEY_TYPES, "text", "text", "text", "text", "int4"]


@dataclass(frozen=True, slots=True)
class BatchTiming:
    """When and where a batch ran."""

    worker: str
    queue_wait_ms: float | None
    finished_at: datetime


class Store:
    """A worker process's PostgreSQL connection, opened lazily and reopened after a failure."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def write(self, outcome: BatchOutcome, timing: BatchTiming, *, step2: bool = True) -> bool:
        """Commit one batch's results; False when the batch had been committed before.

        ``step2``: the batch is in the telemetry flag's sampled share, so its batch_metrics row is
        written too (Step 1 keeps batch_results and parse_failures for every batch).

        The run's completion is checked after the commit, so that of two batches committed at once
        the later sees the other's row; and also when the batch had been committed before, since
        that earlier delivery may have died between its commit and the check.
        """
        try:
            with translated(self.database_url):
                conn = self._connection()
                with conn.transaction():
                    written = self._write(conn, outcome, timing, step2)
                mark_finished_if_complete(conn, outcome.batch.run_id)
                return written
        except BaseException:
            self.close()
            raise

    def split(self, batch: Batch, parts: Sequence[Batch], worker: str) -> bool:
        """Record that ``parts`` replace ``batch``; True when they do (now or by an earlier split),
        False when ``batch`` had been parsed and stored (then nothing is split).

        The split is committed before the parts are sent, so a run never finishes early (the
        batch's row counts ``1 - len(parts)`` until its parts have rows) and a redelivery of the
        batch finds the split and sends the parts again (their claims make that harmless).
        """
        try:
            with translated(self.database_url):
                conn = self._connection()
                with conn.transaction():
                    params = {"batch_id": batch.batch_id, "run_id": batch.run_id, "language": batch.language}
                    claim = {**params, "worker": worker, "parts": len(parts)}
                    row = conn.execute(sql(_HERE, "claim_split"), claim).fetchone()
                    if row is None or row[0] == 0:
                        return False
                    conn.execute(
                        sql(_HERE, "split_batches"),
                        {
                            **params,
                            "ids": [part.batch_id for part in parts],
                            "files": [len(part.files) for part in parts],
                            "sizes": [part.size_bytes for part in parts],
                        },
                    )
                return True
        except BaseException:
            self.close()
            raise

    def split_into(self, batch_id: str) -> int:
        """How many batches replaced ``batch_id`` (0: none, or it was parsed and stored)."""
        try:
            with translated(self.database_url):
                conn = self._connection()
                with conn.transaction():
                    row = conn.execute(sql(_HERE, "split_into"), {"batch_id": batch_id}).fetchone()
                return 0 if row is None else int(str(row[0]))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop the connection (a broken one is reopened on the next write)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            # autocommit: a batch's writes are one explicit transaction (Connection.transaction), the
            # completion check after it a statement of its own, without a BEGIN/COMMIT round trip.
            conn = connect(self.database_url, autocommit=True)
            try:
                check_schema(conn, self.database_url)  # once per connection: an old schema is an outage
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _write(
        self, conn: psycopg.Connection[tuple[object, ...]], outcome: BatchOutcome, timing: BatchTiming, step2: bool
    ) -> bool:
        batch = outcome.batch
        known = conn.execute(sql(_HERE, "run_known"), {"run_id": batch.run_id}).fetchone()
        if known is None or known[0] is not True:  # a worker on another database than its producer's
            raise UnknownRun(
                f"run {batch.run_id} is unknown to PostgreSQL at {shown_url(self.database_url)}", batch.run_id
            )
        version = parser_version(batch.language)
        row = conn.execute(sql(_HERE, "claim_batch"), _claim_params(outcome, timing, version)).fetchone()
        if row is None or row[0] is not True:
            return False
        fresh = {item for item in row[1] if isinstance(item, bytes)} if isinstance(row[1], list) else set()
        self._write_outlines(conn, [f for f in outcome.files if f.ref.blob_hash in fresh], version)
        self._write_measurements(conn, outcome, timing, step2)
        return True

    def _write_outlines(
        self, conn: psycopg.Connection[tuple[object, ...]], files: list[FileOutcome], version: str
    ) -> None:
        """Binary COPY; a Symbol's and an Import's fields are in their table's column order."""
        outlines = {item.ref.blob_hash: item.outline for item in files if item.outline is not None}
        if any(outline.symbols for outline in outlines.values()):
            with conn.cursor().copy(f"COPY symbols ({_SYMBOL_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_SYMBOL_TYPES)
                for blob, outline in outlines.items():
                    for ordinal, symbol in enumerate(outline.symbols):
                        copy.write_row((blob, version, ordinal, *symbol))
        if any(outline.imports for outline in outlines.values()):
            with conn.cursor().copy(f"COPY imports ({_IMPORT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_IMPORT_TYPES)
                for blob, outline in outlines.items():
                    for ordinal, imp in enumerate(outline.imports):
                        copy.write_row((blob, version, ordinal, *imp))

    def _write_measurements(
        self, conn: psycopg.Connection[tuple[object, ...]], outcome: BatchOutcome, timing: BatchTiming, step2: bool
    ) -> None:
        batch = outcome.batch
        if step2:
            conn.execute(
                sql(_HERE, "batch_metric"),
                {
                    "time": timing.finished_at,
                    "run_id": batch.run_id,
                    "batch_id": batch.batch_id,
                    "language": batch.language,
                    "worker": timing.worker,
                    "files": len(batch.files),
                    "size_bytes": batch.size_bytes,
                    "duration_ms": outcome.duration_ms,
                    "queue_wait_ms": timing.queue_wait_ms,
                },
            )
        failed = [item for item in outcome.files if item.failure_kind is not None]
        if not failed:
            return
        with conn.cursor().copy(
            "COPY parse_failures (time, run_id, batch_id, repository_id, path, blob_hash, language, kind,"
            " message) FROM STDIN"
        ) as copy:
            for item in failed:
                copy.write_row(
                    (timing.finished_at, batch.run_id, batch.batch_id, item.ref.repository_id, item.ref.path,
                     item.ref.blob_hash, batch.language, item.failure_kind, item.message)
                )  # fmt: skip


def _claim_params(outcome: BatchOutcome, timing: BatchTiming, version: str) -> dict[str, object]:
    batch = outcome.batch
    files = outcome.files
    outlines = [item.outline for item in files]
    return {
        "batch_id": batch.batch_id,
        "run_id": batch.run_id,
        "language": batch.language,
        "files": len(files),
        "parsed": len(files) - outcome.count(FileStatus.FAILED),
        "partial": outcome.count(FileStatus.PARTIAL),
        "fallback": outcome.count(FileStatus.FALLBACK),
        "failed": outcome.count(FileStatus.FAILED),
        "symbols": outcome.symbols,
        "duration_ms": outcome.duration_ms,
        "cpu_ms": outcome.cpu_ms,
        "worker": timing.worker,
        "parser_version": version,
        "hashes": [item.ref.blob_hash for item in files],
        "statuses": [item.status.value for item in files],
        "failure_kinds": [item.failure_kind for item in files],
        "error_counts": [o.error_count if o else 0 for o in outlines],
        "unexpanded": [o.unexpanded_macros if o else 0 for o in outlines],
        "sizes": [item.ref.size_bytes for item in files],
        "symbol_counts": [len(o.symbols) if o else 0 for o in outlines],
    }


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)
