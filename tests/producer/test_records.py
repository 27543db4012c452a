"""The producer's ledger against a real PostgreSQL: a lost connection is reopened and each write
lands once; an outage longer than the retry budget ends in StoreUnavailable, password hidden."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.errors import StoreUnavailable
from parsefleet.producer.records import CRASHED_BEFORE, UNCHANGED, Advance, Entry, Indexed, Ledger
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


def _file(repository: int, path: str, text: str) -> FileRef:
    content = text.encode()
    return FileRef(repository, path, blob_hash(content), "python", len(content))


def _moved(
    repository: int, commit: str, *, removed: tuple[str, ...] = (), touched: tuple[str, ...] | None = None
) -> Advance:
    indexed = Indexed(commit, "full" if touched is None else "incremental", None, 1, 0, 0, 0, 1, 0, removed, touched)
    return Advance(repository, f"/r{repository}", indexed, kept_commits=1)


def _views(conn: psycopg.Connection[tuple[object, ...]], table: str) -> set[tuple[object, ...]]:
    where = " WHERE to_seq IS NULL" if table == "file_versions" else ""
    return set(conn.execute(f"SELECT repository_id, path, blob_hash FROM {table}{where}").fetchall())


def test_the_repositories_a_window_finishes_move_together_each_as_if_alone(clean_db: str) -> None:
    ledger = Ledger(clean_db, str(uuid.uuid4()), retry_s=30)
    try:
        ledger.start(["/r"], ["argument 1"], ci=False)
        ids = {
            name: found[0] for name, found in ledger.repositories({name: name for name in ("/a", "/b", "/c")}).items()
        }
        a, b, c = ids["/a"], ids["/b"], ids["/c"]
        first = [_file(a, "x.py", "x = 1\n"), _file(a, "y.py", "y = 1\n"), _file(b, "z.py", "z = 1\n")]
        ledger.record(Entry([*first, _file(c, "w.py", "w = 1\n")], [], [], advances=[
            _moved(a, "a1"), _moved(b, "b1"), _moved(c, "c1"),
        ]))  # fmt: skip
        changed = [_file(a, "y.py", "y = 2\n"), _file(b, "z.py", "z = 2\n"), _file(c, "w.py", "w = 2\n")]
        ledger.record(Entry(changed, [], [], advances=[
            _moved(a, "a2", removed=("x.py",)), _moved(b, "b2", touched=("z.py",)), _moved(c, "c2"), _moved(c, "c3"),
        ]))  # fmt: skip
    finally:
        ledger.close()
    with psycopg.connect(clean_db) as conn:
        assert _views(conn, "file_versions") == _views(conn, "files")  # the open versions are the files
        assert {row[1] for row in _views(conn, "files") if row[0] == a} == {"y.py"}
        indexed = dict(conn.execute("SELECT id, indexed_commit FROM repositories").fetchall())
        assert indexed == {a: "a2", b: "b2", c: "c3"}
        commits = conn.execute("SELECT repository_id, commit_id, kept FROM repository_commits ORDER BY seq").fetchall()
        assert [(row[0], row[1]) for row in commits] == [
            (a, "a1"), (b, "b1"), (c, "c1"), (a, "a2"), (b, "b2"), (c, "c2"), (c, "c3"),
        ]  # fmt: skip
        assert [row[1] for row in commits if row[2]] == ["a2", "b2", "c3"]  # kept_commits 1
        closed = conn.execute("SELECT count(*) FROM file_versions WHERE to_seq IS NOT NULL").fetchone()
        assert closed == (0,)  # the versions only the dropped commits saw are gone
