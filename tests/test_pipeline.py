"""End to end through real processes: producer -> Redis -> Celery worker processes -> PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path

import msgpack
import psycopg
import pytest
import redis
from celery import Celery

from parsefleet.cli import commands
from parsefleet.contract.batch import Batch, BatchFile, FileRef, decode_batch
from parsefleet.contract.languages import language_for
from parsefleet.contract.names import DEAD_LETTER_KEY, KOMBU_UNACKED_KEY, PARSE_BATCH_TASK, TELEMETRY_FLAG, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import celery_config
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.submission import blob_hash
from parsefleet.reading.report import RunReport
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.limits import ParseBudget
from tests.services import wait_until

pytestmark = pytest.mark.service


def _submit(settings: Settings, repo: Path) -> RunReport:
    return commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))


def _source_files(repo: Path) -> list[Path]:
    return sorted(p for p in repo.rglob("*") if p.is_file() and language_for(p) is not None)


def test_first_run_stores_every_outline_and_accounts_for_every_file(
    settings: Settings, worker: LocalWorkers, repo: Path
) -> None:
    report = _submit(settings, repo)
    assert report.state.finished
    languages = {item.language: item for item in report.languages}
    assert set(languages) == {"python", "go", "rust"}
    for item in report.languages:
        assert item.accounted, item
        assert item.parsed > 0 and item.failed == 0
    assert sum(item.seen for item in report.languages) == len(_source_files(repo))
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        for path in _source_files(repo):
            _assert_stored_outline_matches_adapter(conn, repo, path)


def _assert_stored_outline_matches_adapter(
    conn: psycopg.Connection[tuple[object, ...]], repo: Path, path: Path
) -> None:
    content = path.read_bytes()
    language = language_for(path)
    assert language is not None
    expected = adapter_for(language).outline(content, ParseBudget(30.0))
    rows = conn.execute(
        "SELECT s.kind, s.qualified_name, s.start_line, s.end_line, s.parent_ordinal, s.visibility"
        "  FROM files f JOIN symbols s ON s.blob_hash = f.blob_hash"
        " WHERE f.path = %s ORDER BY s.ordinal",
        (path.relative_to(repo).as_posix(),),
    ).fetchall()
    want = [
        (s.kind.value, s.qualified_name, s.start_line, s.end_line, s.parent, s.visibility.value)
        for s in expected.symbols
    ]
    assert rows == want, path
    stored_hash = conn.execute(
        "SELECT blob_hash FROM files WHERE path = %s", (path.relative_to(repo).as_posix(),)
    ).fetchone()
    assert stored_hash is not None and stored_hash[0] == blob_hash(content)


def test_second_run_parses_nothing_and_a_changed_file_is_reparsed_alone(
    settings: Settings, worker: LocalWorkers, repo: Path
) -> None:
    first = _submit(settings, repo)
    seen = {item.language: item.seen for item in first.languages}

    second = _submit(settings, repo)
    assert second.state.finished
    assert second.parsed == 0
    for item in second.languages:
        assert item.accounted
        assert item.seen == seen[item.language]
        assert item.skipped.get("unchanged", 0) > 0

    changed = next(p for p in _source_files(repo) if p.suffix == ".go")
    changed.write_bytes(changed.read_bytes() + b"\nfunc AddedLater() {}\n")
    third = _submit(settings, repo)
    counts = {item.language: item.parsed for item in third.languages}
    assert counts == {"python": 0, "go": 1, "rust": 0}
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM files f JOIN symbols s ON s.blob_hash = f.blob_hash"
            " WHERE f.path = %s AND s.name = 'AddedLater'",
            (changed.relative_to(repo).as_posix(),),
        ).fetchone()
    assert found == (1,)


def test_failures_are_named_with_their_file_and_nothing_is_lost(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = tmp_path / "odd"
    repo.mkdir()
    (repo / "ok.py").write_text("def fine():\n    return 1\n")
    (repo / "big.py").write_bytes(b"x = 1\n" * 2000)
    (repo / "binary.go").write_bytes(bytes(range(256)) * 40)
    (repo / "bad utf8 \u00e9.rs").write_bytes(b'fn main() { let s = "\xff\xfe"; }\n')
    small = Settings.from_env(
        {},
        redis_url=settings.redis_url,
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        max_file_bytes=4096,
    )
    report = _submit(small, repo)
    assert report.state.finished
    for item in report.languages:
        assert item.accounted, item
    failed = {(kind, Path(path).name) for _lang, kind, path, _msg in report.failed_files}
    assert ("too-large", "big.py") in failed
    python = next(item for item in report.languages if item.language == "python")
    assert python.parsed == 1 and python.failed == 1


def test_workers_send_batch_durations_and_failures_to_statsd(
    settings: Settings, worker: LocalWorkers, statsd_server: socket.socket, tmp_path: Path, clean_redis: redis.Redis
) -> None:
    clean_redis.set(TELEMETRY_FLAG, "100")  # Step 2 for every batch; the worker has read no flag yet
    repo = tmp_path / "metrics"
    repo.mkdir()
    (repo / "a.py").write_text("def a():\n    pass\n")
    (repo / "b.go").write_text("package b\n\nfunc B() {}\n")
    (repo / "c.rs").write_text("fn c() {}\n")
    report = _submit(settings, repo)
    assert report.state.finished and report.state.batches_total == 3
    durations: dict[str, float] = {}
    while len(durations) < 3:
        packet = statsd_server.recv(65536).decode()
        for line in packet.splitlines():
            name, _, rest = line.partition(":")
            if name == "parser_duration_ms":
                value, kind, tags = rest.split("|", 2)
                assert kind == "ms" and tags.startswith("#")
                tag_map = dict(tag.split(":", 1) for tag in tags[1:].split(","))
                assert tag_map["queue"] == f"parsefleet.{tag_map['language']}"
                durations[tag_map["language"]] = float(value)
    assert set(durations) == {"python", "go", "rust"}
    assert all(value > 0 for value in durations.values())


def test_undecodable_batch_goes_to_the_dead_letter_list(
    settings: Settings, worker: LocalWorkers, clean_redis: redis.Redis
) -> None:
    assert settings.redis_url is not None
    app = Celery("test-sender", set_as_current=False)
    app.conf.update(celery_config(settings, settings.redis_url))
    app.send_task(PARSE_BATCH_TASK, args=[b"definitely not a batch", 0.0], queue=queue_for("python"))
    popped = clean_redis.blpop([DEAD_LETTER_KEY], timeout=60)
    assert popped is not None
    record = msgpack.unpackb(popped[1], raw=False)
    assert record["payload"] == b"definitely not a batch"
    assert "undecodable batch" in record["reason"]
    app.close()


def test_a_message_whose_batch_left_the_outbox_is_acknowledged_as_finished_before(
    settings: Settings, worker: LocalWorkers, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    """A resend that was not needed arrives after its batch finished: no payload to read, nothing to do."""
    assert settings.redis_url is not None
    app = Celery("test-sender", set_as_current=False)
    app.conf.update(celery_config(settings, settings.redis_url))
    app.send_task(PARSE_BATCH_TASK, args=[None, 0.0], queue=queue_for("python"), task_id="finished-batch")
    app.close()
    log = tmp_path / "logs" / "worker-0.log"
    wait_until(lambda: "task finished-batch: finished before" in log.read_text(), "the message consumed", 60)
    wait_until(
        lambda: clean_redis.llen(queue_for("python")) == 0 and clean_redis.hlen(KOMBU_UNACKED_KEY) == 0,
        "the message acknowledged",
        10,
    )
    assert "Traceback" not in log.read_text()


def test_a_batch_the_database_rejects_goes_to_the_dead_letter_list_not_a_retry_loop(
    settings: Settings, worker: LocalWorkers, clean_redis: redis.Redis
) -> None:
    content = b"x = 1\n"
    ref = FileRef(1, "x.py", blob_hash(content), "python", len(content))
    bad = Batch("not-a-uuid:000001", "not-a-uuid", "python", (BatchFile(ref, content),))
    assert settings.redis_url is not None
    enqueuer = Enqueuer(settings, settings.redis_url)
    enqueuer.send(bad)
    enqueuer.close()
    popped = clean_redis.blpop([DEAD_LETTER_KEY], timeout=60)
    assert popped is not None
    record = msgpack.unpackb(popped[1], raw=False)
    assert "rejected the data" in record["reason"]
    assert decode_batch(record["payload"]) == bad
