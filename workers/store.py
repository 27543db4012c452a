"""The worker's writes: one batch's outlines, result, timing and failures in one transaction.

Idempotent: the batch_results row is claimed first, in the statement that inserts the blobs only
for a new claim (sql/claim_batch.sql), so a redelivered batch writes nothing twice; blob rows are
keyed by (hash, parser version), so a blob outlined by another batch keeps its first outline.
Symbols and imports go through binary COPY. Per batch: BEGIN, the run's existence, claim and
blobs, two COPYs, the metric row, COMMIT, then the run's completion check (autocommit).

A batch's rows come file by file as its files are outlined (``Store.rows``, ``BatchRows``): up to
``STAGE_AFTER_ROWS`` of them wait in memory for the COPYs of the commit, as nearly every batch's do.
Past that, the rows waiting go on at once by COPY into the connection's staging tables (temporary,
emptied by every commit: sql/staging_tables.sql), in the batch's transaction, which opens then; the
commit moves the rows of the blobs it claims from there into symbols and imports. So a worker holds
about one file's outline at a time (at most ``max_file_symbols`` symbols), whatever a batch holds.

A batch whose run the database does not hold is refused (``UnknownRun``): the worker is pointed at
another database than its producer (plumbing/unknown_runs.py says what happens to the batch). Each
new connection first checks that the schema is this release's (``check_schema``): an older one is
an outage until `parsefleet db migrate`, not a reason to drop batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from parsefleet.contract.batch import Batch
from parsefleet.contract.errors import UnknownRun
from parsefleet.contract.outline import FileStatus, Outline
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.database import connect, sql, translated
from parsefleet.plumbing.migrations import check_schema
from parsefleet.plumbing.redaction import shown_url
from parsefleet.plumbing.runs import mark_finished_if_complete
from parsefleet.workers.outcome import BatchOutcome

__all__ = ["STAGE_AFTER_ROWS", "BatchRows", "BatchTiming", "Store"]

# Rows (symbols and imports) a batch keeps in memory before they go on to PostgreSQL: about 8 MB of
# outlines (some 400 bytes a symbol in a worker). A 256 KiB batch of ordinary code has about 1,500.
STAGE_AFTER_ROWS = 20_000

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
_STAGED = {"symbols": "pg_temp.staged_symbols", "imports": "pg_temp.staged_imports"}


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
        self._staging_tables = False  # this connection's session has them

    @contextmanager
    def rows(self, batch: Batch) -> Iterator[BatchRows]:
        """The rows of ``batch``, to hand to ``outline_batch`` and then to ``write``; rows the block
        leaves without their commit (an error, or a failure recorded instead) are dropped with their
        transaction."""
        rows = BatchRows(self, batch)
        try:
            yield rows
        finally:
            if rows.staging is not None:  # staged and not committed: the connection takes them away
                self.close()

    def write(
        self,
        outcome: BatchOutcome,
        timing: BatchTiming,
        *,
        step2: bool = True,
        rows: BatchRows | None = None,
        before_commit: Callable[[str], None] | None = None,
    ) -> bool:
        """Commit one batch's results; False when the batch had been committed before.

        ``rows``: the outlines of the batch (``Store.rows``), or None when ``outcome`` keeps them.
        ``step2``: the batch is in the telemetry flag's sampled share, so its batch_metrics row is
        written too (Step 1 keeps batch_results and parse_failures for every batch).
        ``before_commit(stage)`` is called before the first statement and again before COMMIT; what it
        raises rolls the batch back and comes out of ``write`` (the worker's memory budget).

        The run's completion is checked after the commit, so that of two batches committed at once
        the later sees the other's row; and also when the batch had been committed before, since
        that earlier delivery may have died between its commit and the check.
        """
        check = before_commit or _unchecked
        try:
            with translated(self.database_url):
                check("batch not committed: outlined")
                if rows is None:
                    rows = BatchRows(self, outcome.batch)
                    for item in outcome.files:
                        if item.outline is not None:
                            rows.add(item.ref.blob_hash, item.outline)
                # staged rows live in the session that staged them: a lost one fails the write (retried)
                conn = rows.staged_on if rows.staged_on is not None else self._connection()
                with rows.transaction(conn):
                    written = self._write(conn, outcome, timing, step2, rows)
                    check("batch rolled back: rows copied")
                rows.staging = rows.staged_on = None
                mark_finished_if_complete(conn, outcome.batch.run_id)
                return written
        except BaseException:
            if rows is not None:
                rows.staging = rows.staged_on = None  # rolled back, or gone with the connection
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
        """Drop the connection (a broken one is reopened on the next write), and with it an open
        transaction."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._staging_tables = False

    def stage(self, rows: BatchRows, outlines: dict[bytes, Outline]) -> None:
        """Copy ``outlines`` into the staging tables, in the transaction of ``rows`` (opened now if
        it is not yet)."""
        try:
            with translated(self.database_url):
                conn = self._connection()
                if rows.staging is None:
                    rows.staging, rows.staged_on = ExitStack(), conn
                    rows.staging.enter_context(conn.transaction())
                if not self._staging_tables:
                    conn.execute(sql(_HERE, "staging_tables"))
                    self._staging_tables = True
                _copy_outlines(conn, outlines.items(), rows.version, _STAGED)
        except BaseException:
            rows.staging = rows.staged_on = None
            self.close()
            raise

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
        self,
        conn: psycopg.Connection[tuple[object, ...]],
        outcome: BatchOutcome,
        timing: BatchTiming,
        step2: bool,
        rows: BatchRows,
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
        fresh = [item for item in row[1] if isinstance(item, bytes)] if isinstance(row[1], list) else []
        if rows.staging is not None:
            conn.execute(sql(_HERE, "staged_outlines"), {"fresh": fresh})
        fresh_set = set(fresh)
        waiting = rows.take()
        _copy_outlines(conn, [(blob, o) for blob, o in waiting.items() if blob in fresh_set], version, None)
        self._write_measurements(conn, outcome, timing, step2)
        return True

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


class BatchRows:
    """One batch's symbol and import rows, handed over file by file as each file is outlined (``add``,
    from ``outline_batch``): they wait in memory, and go on to the staging tables once more than
    ``STAGE_AFTER_ROWS`` wait (the module's docstring). A blob met twice in a batch keeps its first
    outline. ``staging``: the batch's open transaction once rows are staged, on ``staged_on``."""

    def __init__(self, store: Store, batch: Batch) -> None:
        self.version = parser_version(batch.language)
        self.staging: ExitStack | None = None
        self.staged_on: psycopg.Connection[tuple[object, ...]] | None = None
        self._store = store
        self._seen: set[bytes] = set()
        self._waiting: dict[bytes, Outline] = {}
        self._waiting_rows = 0

    def add(self, blob_hash: bytes, outline: Outline) -> None:
        """Take the outline of blob ``blob_hash``."""
        if blob_hash in self._seen:
            return
        self._seen.add(blob_hash)
        count = len(outline.symbols) + len(outline.imports)
        if count == 0:
            return
        self._waiting[blob_hash] = outline
        self._waiting_rows += count
        if self._waiting_rows > STAGE_AFTER_ROWS:
            self._store.stage(self, self.take())

    def take(self) -> dict[bytes, Outline]:
        """The outlines waiting, by blob hash; none wait afterwards."""
        waiting, self._waiting, self._waiting_rows = self._waiting, {}, 0
        return waiting

    def transaction(self, conn: psycopg.Connection[tuple[object, ...]]) -> AbstractContextManager[object]:
        """The batch's transaction: the one its staging opened, or a new one."""
        return self.staging if self.staging is not None else conn.transaction()


def _copy_outlines(
    conn: psycopg.Connection[tuple[object, ...]],
    outlines: Iterable[tuple[bytes, Outline]],
    version: str,
    staged: dict[str, str] | None,
) -> None:
    """Binary COPY of the symbols, then the imports, of ``outlines`` into their tables (``staged``:
    the staging tables instead); a Symbol's and an Import's fields are in their table's column order."""
    outlines = list(outlines)
    for table, columns, types in (
        ("symbols", _SYMBOL_COLUMNS, _SYMBOL_TYPES),
        ("imports", _IMPORT_COLUMNS, _IMPORT_TYPES),
    ):
        target = table if staged is None else staged[table]
        parts = [(blob, outline.symbols if table == "symbols" else outline.imports) for blob, outline in outlines]
        if not any(items for _blob, items in parts):
            continue
        with conn.cursor().copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for blob, items in parts:
                for ordinal, item in enumerate(items):
                    copy.write_row((blob, version, ordinal, *item))


def _unchecked(_stage: str) -> None:
    """No check before a commit."""


def _claim_params(outcome: BatchOutcome, timing: BatchTiming, version: str) -> dict[str, object]:
    batch = outcome.batch
    files = outcome.files
    summaries = [item.summary for item in files]
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
        "error_counts": [o.error_count if o else 0 for o in summaries],
        "unexpanded": [o.unexpanded_macros if o else 0 for o in summaries],
        "sizes": [item.ref.size_bytes for item in files],
        "symbol_counts": [o.symbols if o else 0 for o in summaries],
    }


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)
