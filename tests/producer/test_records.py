"""The producer's ledger against a real PostgreSQL: a lost connection is reopened and each write
lands once; an outage longer than the retry budget ends in StoreUnavailable, password hidden."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import StoreUnavailable
from parsefleet.producer.records import CRASHED_BEFORE, UNCHANGED, Entry, Ledger
from parsefleet.producer.submission import blob_hash

pytestmark = pytest.mark.service


def _window(run_id: str, repository: int, index: int) -> tuple[list[FileRef], list[Batch]]:
    """One file in one batch."""
    content = f"x = {index}\n".encode()
    ref = FileRef(repository, f"m{index}.py", blob_hash(content), "python", len(content))
    return [ref], [Batch(f"{run_id}:{index:06d}", run_id, "python", (BatchFile(ref, content),))]


def _drop_other_sessions(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_a_lost_connection_is_reopened_and_every_write_lands_once(clean_db: str) -> None:
    run_id = str(uuid.uuid4())
    ledger = Ledger(clean_db, run_id, retry_s=30)
    try:
        ledger.start(["/repo"], ["argument 1"], ci=False)
        repository = ledger.repository_id("/repo")
        ledger.record(Entry(*_window(run_id, repository, 1), []))
        assert _drop_other_sessions(clean_db) == 1  # the ledger's session, killed between two writes
        refused = FileRef(repository, "big.py", b"", "python", 0)
        ledger.record(Entry(*_window(run_id, repository, 2), [(refused, "too-large", "larger than 8 bytes")]))
        assert _drop_other_sessions(clean_db) == 1
        ledger.finish(2, ({"python": (3, 2)}, {}))
    finally:
        ledger.close()
    with psycopg.connect(clean_db) as conn:
        run = conn.execute("SELECT producer_step, batches_total FROM runs WHERE id = %s", (run_id,)).fetchone()
        stored = conn.execute("SELECT count(*) FROM batches WHERE run_id = %s", (run_id,)).fetchone()
        failures = conn.execute("SELECT count(*) FROM parse_failures WHERE run_id = %s", (run_id,)).fetchone()
        inputs = conn.execute("SELECT count(*) FROM run_inputs WHERE run_id = %s", (run_id,)).fetchone()
    assert run == (4, 2)  # start, two windows, finish
    assert stored == (2,) and failures == (1,) and inputs == (1,)


def test_an_outage_longer_than_the_budget_is_one_clear_error() -> None:
    ledger = Ledger("postgresql://parsefleet:s3cret@127.0.0.1:1/parsefleet", str(uuid.uuid4()), retry_s=0.6)
    with pytest.raises(StoreUnavailable) as caught:
        ledger.start(["/repo"], ["argument 1"], ci=False)
    assert "unreachable" in str(caught.value) and "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_blob_that_crashed_a_worker_is_skipped_unless_retried(clean_db: str) -> None:
    hashes = {name: blob_hash(name.encode()) for name in ("parsed", "crash", "timeout")}
    with psycopg.connect(clean_db) as conn:
        for name, digest in hashes.items():
            failed = name != "parsed"
            conn.execute(
                "INSERT INTO blobs (hash, parser_version, language, status, failure_kind, size_bytes, symbol_count)"
                " VALUES (%s, 'v1', 'python', %s, %s, 1, 0)",
                (digest, "failed" if failed else "parsed", name if failed else None),
            )
    ledger = Ledger(clean_db, str(uuid.uuid4()), retry_s=5)
    try:
        skipped = ledger.known("v1", hashes.values(), retry_crashed=False)
        retried = ledger.known("v1", hashes.values(), retry_crashed=True)
        other_version = ledger.known("v2", hashes.values(), retry_crashed=False)
    finally:
        ledger.close()
    assert skipped == {hashes["parsed"]: UNCHANGED, hashes["crash"]: CRASHED_BEFORE}  # a timeout may pass next time
    assert retried == {hashes["parsed"]: UNCHANGED}
    assert other_version == {}
