"""The memory cap holds at any input: files of too many symbols, batches of many files just under
that cap, a child over its budget at a batch's commit, and batches that expand past any size a
producer makes, against a real worker whose whole tree (main process and pool children) is
sampled while it works.

Before: two files of 150,000 one-line functions were parsed "as if nothing happened" and took
the worker tree to 538 MB (the parse was watched, the outline building and the commit were not);
a batch held every outline until its commit, so eight files of 49,000 functions took a child past
its budget and the last ones failed; a 14.5 KB zstd payload in the outbox expanded to 450 MB in a
pool child (1,080 MB for the tree).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import msgpack
import psycopg
import pytest
import redis
import zstandard
from celery import Celery

from parsefleet.bench.probe import TreeProbe
from parsefleet.contract.batch import WIRE_VERSION
from parsefleet.contract.names import DEAD_LETTER_KEY, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import dead_letter
from parsefleet.plumbing.broker import celery_config
from parsefleet.plumbing.outbox import Kept, Outbox, send
from parsefleet.services.local_workers import LocalWorkers
from tests.accounting import ChildPeaks, many_files, probed_run
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(300)]

_TREE_CAP_MB = 512
# Two pool children, whatever the machine: each has (512 - 96) / 2 = 208 MB, room for the tree of
# 150,000 functions (114 MB) but not for that of 220,000 (167 MB) beside its 63 MB at rest.
_TWO_CHILDREN = {"PARSEFLEET_WORKER_CONCURRENCY": "2"}
_CHILD_BUDGET_MB = (512 - 96) / 2
# Batches of up to 8 MiB of source (the largest a worker accepts by default: max_file_bytes), sized
# by bytes alone, so that files just under the symbols cap travel together.
_BIG_BATCHES = {"PARSEFLEET_BATCH_MAX_BYTES": str(8 * 1024 * 1024), "PARSEFLEET_BATCH_TARGET_MS": "0"}
_BOMB_BYTES = 450 * 1024 * 1024
_LINE = b"x = 1\n"


def _functions(count: int) -> bytes:
    return "".join(f"def f{index}():0\n" for index in range(count)).encode()


def test_files_of_too_many_symbols_fail_and_the_worker_tree_stays_under_its_cap(
    settings: Settings, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for count in (150_000, 220_000):
        for copy in "ab":
            (repo / f"f{count}{copy}.py").write_bytes(f"# {copy}\n".encode() + _functions(count))
    (repo / "ordinary.py").write_bytes(_functions(100))
    children = ChildPeaks()
    report, probe = probed_run(settings, repo, tmp_path / "logs", env=_TWO_CHILDREN, children=children)
    peak_mb = max(probe.peak_rss_mb.values())
    failed = {Path(path).name: kind for _language, kind, path, _message in report.failed_files}
    print(
        f"too many symbols: worker tree peak {peak_mb:.0f} MB, child peak {children.peak_mb:.0f} MB, failures {failed}"
    )
    assert report.state.finished and report.parsed == 1
    assert failed["f150000a.py"] == failed["f150000b.py"] == "too-many-symbols"
    # 220,000 functions need more tree than a child's budget: cancelled during the parse, or refused
    assert {failed["f220000a.py"], failed["f220000b.py"]} <= {"too-many-symbols", "memory"}
    assert peak_mb < _TREE_CAP_MB


def test_without_the_symbols_cap_the_memory_budget_alone_holds(settings: Settings, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for copy in "ab":
        (repo / f"f{copy}.py").write_bytes(f"# {copy}\n".encode() + _functions(220_000))
    (repo / "ordinary.py").write_bytes(_functions(100))
    env = {**_TWO_CHILDREN, "PARSEFLEET_MAX_FILE_SYMBOLS": str(10**7)}
    children = ChildPeaks()
    report, probe = probed_run(
        replace(settings, max_file_symbols=10**7), repo, tmp_path / "logs", env=env, children=children
    )
    peak_mb = max(probe.peak_rss_mb.values())
    kinds = sorted(kind for _language, kind, _path, _message in report.failed_files)
    print(
        f"memory budget alone: worker tree peak {peak_mb:.0f} MB, child peak {children.peak_mb:.0f} MB,"
        f" failures {kinds}"
    )
    assert report.state.finished and report.parsed == 1
    assert kinds == ["memory", "memory"]
    assert peak_mb < _TREE_CAP_MB


def test_a_batch_of_files_just_under_the_symbols_cap_is_stored_whole_within_the_child_budget(
    settings: Settings, tmp_path: Path
) -> None:
    """Eight files of 49,000 functions in one batch: 392,000 symbols, about 165 MB as outlines held
    together, more than a child's budget beside its rest. Each file's rows go to COPY once it is
    outlined, so none of them fails and a child holds about one file's outline at a time."""
    repo = tmp_path / "repo"
    repo.mkdir()
    files, count = 8, 49_000
    for index in range(files):
        (repo / f"under{index}.py").write_bytes(f"# {index}\n".encode() + _functions(count))
    children = ChildPeaks()
    settings = replace(settings, batch_max_bytes=8 * 1024 * 1024, batch_target_ms=0)
    report, probe = probed_run(
        settings, repo, tmp_path / "logs", env={**_TWO_CHILDREN, **_BIG_BATCHES}, children=children
    )
    peak_mb = max(probe.peak_rss_mb.values())
    print(
        f"{files} files of {count} symbols in {report.state.batches_total} batch(es): worker tree peak"
        f" {peak_mb:.0f} MB, child peak {children.peak_mb:.0f} MB, failures {report.failed_files}"
    )
    assert report.state.finished and report.state.batches_total == 1
    assert report.failed_files == [] and report.parsed == files
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT (blob_hash, ordinal)) FROM symbols").fetchone()
    assert stored == (files * count, files * count)
    assert children.peak_mb < _CHILD_BUDGET_MB
    assert peak_mb < _TREE_CAP_MB


def test_a_child_over_its_budget_at_the_commit_records_its_batch_failed_once(
    settings: Settings, tmp_path: Path
) -> None:
    """A child whose budget (4 MB) is below what it holds at rest: each batch is checked again before
    its first statement and before its COMMIT, rolled back and recorded failed ``memory`` (once:
    no redelivery, no dead letter), and the run goes on to its end."""
    repo = many_files(tmp_path / "repo", 6)
    env = {"PARSEFLEET_WORKER_CONCURRENCY": "1", "PARSEFLEET_MAX_MEMORY_MB": "100"}
    report, _probe = probed_run(replace(settings, batch_max_files=2), repo, tmp_path / "logs", env=env)
    log_text = (tmp_path / "logs" / "worker-0.log").read_text(errors="replace")
    assert report.state.finished and report.parsed == 0
    assert sorted(kind for _language, kind, _path, _message in report.failed_files) == ["memory"] * 6
    assert log_text.count("over its memory budget at its commit") == report.state.batches_total == 3
    assert settings.database_url and settings.redis_url
    with psycopg.connect(settings.database_url) as conn:
        deliveries = conn.execute("SELECT deliveries FROM batch_results ORDER BY batch_id").fetchall()
        symbols = conn.execute("SELECT count(*) FROM symbols").fetchone()
    assert deliveries == [(1,)] * 3 and symbols == (0,)
    assert redis.Redis.from_url(settings.redis_url).llen(DEAD_LETTER_KEY) == 0


def _bomb(declare_size: bool) -> bytes:
    """A well-formed batch of one file of ``_BOMB_BYTES``, compressed in a stream (never held whole)."""
    body = {"v": WIRE_VERSION, "id": "bomb:000001", "run": str(uuid.uuid4()), "lang": "python"}
    head = msgpack.packb({**body, "files": [[1, "bomb.py", b"\x00" * 20, _BOMB_BYTES, b""]]}, use_bin_type=True)
    assert head.endswith(b"\xc4\x00")  # the empty content, last: replaced by a bin32 header of the real size
    head = head[:-2] + b"\xc6" + _BOMB_BYTES.to_bytes(4, "big")
    size = len(head) + _BOMB_BYTES if declare_size else -1
    compressor = zstandard.ZstdCompressor(write_content_size=declare_size).compressobj(size=size)
    parts = [compressor.compress(head)]
    block = _LINE * (1024 * 1024 // len(_LINE))
    block += _LINE[: 1024 * 1024 - len(block)]
    parts.extend(compressor.compress(block) for _ in range(_BOMB_BYTES // len(block)))
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.mark.parametrize("declare_size", [True, False], ids=["declared", "undeclared"])
def test_a_zstd_bomb_is_dead_lettered_before_it_expands(
    settings: Settings, tmp_path: Path, clean_redis: redis.Redis, declare_size: bool
) -> None:
    payload = _bomb(declare_size)
    assert len(payload) < 64 * 1024  # about 14.5 KB for 450 MB
    assert settings.redis_url
    assert settings.database_url
    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs")
    fleet.start()
    probe = TreeProbe([process.pid for process in fleet.processes], interval_s=0.02)
    probe.start()
    try:
        sender = Celery("test-sender", set_as_current=False)
        sender.conf.update(celery_config(settings, settings.redis_url))
        kept = Kept("bomb:000001", queue_for("python"), payload, _BOMB_BYTES)
        Outbox(clean_redis).keep(kept)
        send(sender, kept)
        sender.close()
        wait_until(lambda: clean_redis.llen(DEAD_LETTER_KEY) == 1, "the bomb dead-lettered", 60)
    finally:
        probe.stop()
        fleet.stop()
    [entry] = dead_letter.entries(clean_redis)
    peak_mb = max(probe.peak_rss_mb.values())
    print(f"zstd bomb ({len(payload)} bytes, declared={declare_size}): {entry.reason}; tree peak {peak_mb:.0f} MB")
    assert "oversize batch" in entry.reason
    assert entry.payload == payload  # kept as sent, for inspection
    assert Outbox(clean_redis).count() == 0
    assert peak_mb < 256  # a worker at rest; the 450 MB never exist
