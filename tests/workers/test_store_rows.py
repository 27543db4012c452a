"""A batch's rows on their way to COPY file by file, against the real PostgreSQL: staged past
STAGE_AFTER_ROWS, each fresh blob stored once, nothing twice on a redelivery, nothing left behind by a
batch that ends without its commit, and a batch over its memory budget at its commit rolled back.
"""

from __future__ import annotations

import psycopg
import pytest

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import ParseCancelled, StoreUnavailable
from parsefleet.contract.outline import FileStatus
from parsefleet.producer.submission import blob_hash
from parsefleet.workers.outcome import BatchOutcome, outline_batch
from parsefleet.workers.store import STAGE_AFTER_ROWS, BatchTiming, Store, now_utc
from tests.accounting import known_run

pytestmark = [pytest.mark.service]

_BIG = STAGE_AFTER_ROWS // 2 + 1_000  # two such files are past the staging threshold, one is not
_IMPORTS = 50


def _source(functions: int, tag: str) -> bytes:
    imports = "".join(f"import mod{index}\n" for index in range(_IMPORTS))
    return (f"# {tag}\n{imports}" + "".join(f"def f{index}():0\n" for index in range(functions))).encode()


def _file(content: bytes, path: str) -> BatchFile:
    return BatchFile(FileRef(1, path, blob_hash(content), "python", len(content)), content)


def _batch(run_id: str, batch_id: str, *files: BatchFile) -> Batch:
    return Batch(batch_id, run_id, "python", files)


def _streamed(store: Store, batch: Batch, *, staged: bool) -> bool:
    """Outline ``batch`` with its rows handed to the store file by file, then commit it."""
    with store.rows(batch) as rows:
        outcome = outline_batch(batch, 30.0, None, None, rows)
        assert (rows.staging is not None) is staged
        assert all(item.outline is None for item in outcome.files)  # the outcome keeps summaries only
        return store.write(outcome, BatchTiming("test", None, now_utc()), rows=rows)


def _stored(database_url: str) -> dict[bytes, tuple[int, int]]:
    """Symbol and import rows per blob; every key (blob, ordinal) distinct."""
    with psycopg.connect(database_url) as conn:
        symbols = dict(conn.execute("SELECT blob_hash, count(*) FROM symbols GROUP BY 1").fetchall())
        imports = dict(conn.execute("SELECT blob_hash, count(*) FROM imports GROUP BY 1").fetchall())
        distinct = conn.execute("SELECT count(*) = count(DISTINCT (blob_hash, ordinal)) FROM symbols").fetchone()
    assert distinct == (True,)
    return {bytes(blob): (int(count), int(imports.get(blob, 0))) for blob, count in symbols.items()}


def test_a_batch_past_the_staging_threshold_stores_each_fresh_blob_once(clean_db: str) -> None:
    run_id = known_run(clean_db)
    first, second, known = (_file(_source(_BIG, name), f"{name}.py") for name in ("first", "second", "known"))
    small = _file(_source(10, "small"), "small.py")
    store = Store(clean_db)
    try:
        assert _streamed(store, _batch(run_id, "rows:known", known), staged=False)  # outlined before
        batch = _batch(run_id, "rows:big", first, known, _file(first.content, "copy of first.py"), second, small)
        assert _streamed(store, batch, staged=True)
        assert not _streamed(store, batch, staged=True)  # a redelivery writes nothing twice
    finally:
        store.close()
    stored = _stored(clean_db)
    assert stored == {
        first.ref.blob_hash: (_BIG, _IMPORTS),
        second.ref.blob_hash: (_BIG, _IMPORTS),
        known.ref.blob_hash: (_BIG, _IMPORTS),
        small.ref.blob_hash: (10, _IMPORTS),
    }
    with psycopg.connect(clean_db) as conn:
        blobs = conn.execute("SELECT count(*), sum(symbol_count) FROM blobs").fetchone()
        deliveries = conn.execute("SELECT deliveries FROM batch_results WHERE batch_id = 'rows:big'").fetchone()
    assert blobs == (4, 3 * _BIG + 10)
    assert deliveries == (2,)


def test_rows_left_without_their_commit_are_dropped_with_their_transaction(clean_db: str) -> None:
    run_id = known_run(clean_db)
    files = [_file(_source(_BIG, name), f"{name}.py") for name in ("a", "b")]
    batch = _batch(run_id, "rows:left", *files)
    store = Store(clean_db)
    try:
        with store.rows(batch) as rows:
            outline_batch(batch, 30.0, None, None, rows)
            assert rows.staging is not None
        assert _stored(clean_db) == {}
        assert _streamed(store, batch, staged=True)  # the same blobs again: no rows left from before
    finally:
        store.close()
    assert _stored(clean_db) == {item.ref.blob_hash: (_BIG, _IMPORTS) for item in files}


@pytest.mark.parametrize("stage", ["batch not committed: outlined", "batch rolled back: rows copied"])
def test_a_batch_over_its_memory_budget_at_its_commit_is_rolled_back(clean_db: str, stage: str) -> None:
    run_id = known_run(clean_db)
    files = [_file(_source(_BIG, name), f"{name}.py") for name in ("a", "b")]
    batch = _batch(run_id, "rows:over", *files, _file(b"\xff def", "broken.py"))
    store = Store(clean_db)

    def over_budget(at: str) -> None:
        if at == stage:
            raise ParseCancelled(f"{at} at 300 MB RSS (budget 208 MB)")

    timing = BatchTiming("test", None, now_utc())
    try:
        with store.rows(batch) as rows:
            outcome = outline_batch(batch, 30.0, None, None, rows)
            with pytest.raises(ParseCancelled):
                store.write(outcome, timing, rows=rows, before_commit=over_budget)
            assert _stored(clean_db) == {}
            failed: BatchOutcome = outcome.failed("memory", f"{stage} at 300 MB RSS (budget 208 MB)")
            assert store.write(failed, timing)
    finally:
        store.close()
    assert _stored(clean_db) == {}
    with psycopg.connect(clean_db) as conn:
        kinds = conn.execute("SELECT kind, message FROM parse_failures ORDER BY path").fetchall()
        blobs = conn.execute("SELECT DISTINCT status FROM blobs").fetchall()
    assert [kind for kind, _message in kinds] == ["memory", "memory", "memory"]
    assert all(stage in message for _kind, message in kinds)
    assert blobs == [(FileStatus.FAILED.value,)]


def test_a_connection_lost_while_rows_are_staged_fails_the_write_and_claims_nothing(clean_db: str) -> None:
    run_id = known_run(clean_db)
    files = [_file(_source(_BIG, name), f"{name}.py") for name in ("a", "b")]
    batch = _batch(run_id, "rows:lost", *files)
    store = Store(clean_db)
    timing = BatchTiming("test", None, now_utc())
    try:
        with store.rows(batch) as rows:
            outcome = outline_batch(batch, 30.0, None, None, rows)
            assert rows.staging is not None and rows.staged_on is not None
            with psycopg.connect(clean_db, autocommit=True) as admin:  # the server ends the worker's session
                admin.execute("SELECT pg_terminate_backend(%s)", (rows.staged_on.info.backend_pid,))
            with pytest.raises(StoreUnavailable):
                store.write(outcome, timing, rows=rows)
        with psycopg.connect(clean_db) as conn:
            assert conn.execute("SELECT count(*) FROM batch_results").fetchone() == (0,)
        assert _streamed(store, batch, staged=True)  # the retry: parsed again, stored whole
    finally:
        store.close()
    assert _stored(clean_db) == {item.ref.blob_hash: (_BIG, _IMPORTS) for item in files}
