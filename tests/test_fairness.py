"""Bulk runs through real processes: the bytes pending on Redis stay within their budget (sampled);
small repositories behind a monorepo finish long before it (targets read in turn); targets that
failed repeatedly are read last; a producer outranked by a running one of a higher priority keeps to
a share of the budget."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.settings import Settings
from parsefleet.plumbing.fleet import backlog
from parsefleet.producer.enqueue import OUTRANKED_SHARE
from parsefleet.producer.lease import ProducerLease
from parsefleet.services.local_workers import LocalWorkers
from tests.bulk_repos import cli_env, small_repositories
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]


def _monorepo(root: Path, files: int) -> Path:
    """A git repository of ``files`` distinct Python files (untracked: git lists them)."""
    subprocess.run(["git", "init", "-q", "--template=", str(root)], check=True, capture_output=True)
    for index in range(files):
        directory = root / f"pkg{index % 30}"
        directory.mkdir(exist_ok=True)
        body = "".join(f"def f{index}_{n}(x):\n    return x * {n}\n" for n in range(40))
        (directory / f"m{index}.py").write_text(body)
    return root


def _outstanding_bytes(client: redis.Redis) -> int:
    return sum(queue.outstanding_bytes for queue in backlog(client).values())


def test_the_bytes_pending_on_redis_stay_within_the_budget(
    settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    budget, batch_bytes = 256 * 1024, 32 * 1024
    monorepo = _monorepo(tmp_path / "mono", 1200)
    env = {
        **cli_env(settings),
        "PARSEFLEET_MAX_PENDING_BYTES": str(budget),
        "PARSEFLEET_BATCH_MAX_BYTES": str(batch_bytes),
        "PARSEFLEET_MAX_PENDING_BATCHES": "10000",
    }
    baseline = int(clean_redis.info("memory")["used_memory"])
    producer = subprocess.Popen(
        [*PARSEFLEET, "submit", "--no-progress", str(monorepo)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        client = redis.Redis.from_url(settings.redis_url or "")
        while not stop.is_set():
            samples.append((_outstanding_bytes(client), int(client.info("memory")["used_memory"])))
            stop.wait(0.02)
        client.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    fleet: LocalWorkers | None = None
    try:
        # no worker yet: the producer fills the budget and waits there
        wait_until(lambda: _outstanding_bytes(clean_redis) > budget - batch_bytes, "the budget filled", 300)
        assert producer.poll() is None  # held, not done: the corpus is larger than the budget
        listed = subprocess.run(
            [*PARSEFLEET, "report", "--repositories", "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        [target] = json.loads(listed.stdout)  # read in part, what it recorded sent and not done
        assert target["state"] == "listing" and target["bytes_sent"] > 0 and target["bytes_done"] == 0
        assert settings.redis_url and settings.database_url
        fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1)
        fleet.start()
        _out, err = producer.communicate(timeout=600)
        assert producer.returncode == 0, err
    finally:
        stop.set()
        sampler.join()
        if fleet is not None:
            fleet.stop()
        if producer.poll() is None:  # the test failed while the budget held it
            producer.kill()
            producer.communicate()
    assert samples
    assert max(pending for pending, _memory in samples) <= budget + batch_bytes
    # Redis holds the payloads compressed, plus the messages and the outbox's bookkeeping
    overhead = 2 * 1024 * 1024
    assert max(memory for _pending, memory in samples) - baseline <= budget + overhead


# Per target of a run: its files, and when the last of its batches finished.
_TARGET_DONE_AT = """
SELECT t.ordinal, count(*), max(r.finished_at)
  FROM run_targets t
  JOIN files f ON f.repository_id = t.repository_id AND f.last_run_id = t.run_id
  JOIN batch_results r ON r.batch_id = f.batch_id
 WHERE t.run_id = %s
 GROUP BY t.ordinal
"""
# Files of one target whose batch had finished by a given time.
_DONE_BY = """
SELECT count(*) FROM run_targets t
  JOIN files f ON f.repository_id = t.repository_id AND f.last_run_id = t.run_id
  JOIN batch_results r ON r.batch_id = f.batch_id
 WHERE t.run_id = %s AND t.ordinal = %s AND r.finished_at <= %s
"""


def test_small_repositories_behind_a_monorepo_finish_long_before_it(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    monorepo = _monorepo(tmp_path / "mono", 3000)
    small = small_repositories(tmp_path / "small", 20)
    (tmp_path / "list.txt").write_text("".join(f"{path}\n" for path in [monorepo, *small]))
    env = {**cli_env(settings), "PARSEFLEET_MAX_PENDING_BYTES": str(256 * 1024), "PARSEFLEET_BATCH_MAX_BYTES": "32768"}
    done = subprocess.run(
        [*PARSEFLEET, "submit", "--wait", "--no-progress", "--from", "list.txt", "--json", "-"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        finished = {int(row[0]): (int(row[1]), row[2]) for row in conn.execute(_TARGET_DONE_AT, (run_id,))}
        assert sorted(finished) == list(range(1, 22))
        mono_files, mono_done_at = finished[1]
        last_small_at = max(at for ordinal, (_files, at) in finished.items() if ordinal > 1)
        row = conn.execute(_DONE_BY, (run_id, 1, last_small_at)).fetchone()
    assert mono_files == 3000 and last_small_at < mono_done_at
    # read one after the other, the small ones would finish after the whole monorepo
    assert row is not None and row[0] < mono_files / 2


def test_targets_that_failed_repeatedly_are_read_last(settings: Settings, worker: LocalWorkers, tmp_path: Path) -> None:
    first, second = small_repositories(tmp_path / "repos", 2)
    flaky = tmp_path / "flaky"  # missing for two runs: failed twice
    listing = tmp_path / "list.txt"
    listing.write_text(f"{flaky}\n{first}\n")
    for _run in range(2):
        subprocess.run(
            [*PARSEFLEET, "submit", "--no-progress", "--from", str(listing)],
            env=cli_env(settings), capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
    small_repositories(tmp_path / "more", 1)[0].rename(flaky)
    listing.write_text(f"{flaky}\n{first}\n{second}\n")
    done = subprocess.run(
        [*PARSEFLEET, "submit", "--wait", "--no-progress", "--from", str(listing), "--json", "-"],
        env=cli_env(settings), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        order = conn.execute(
            "SELECT t.ordinal FROM repository_commits c JOIN run_targets t"
            "    ON t.run_id = c.run_id AND t.repository_id = c.repository_id"
            " WHERE c.run_id = %s ORDER BY c.seq",
            (run_id,),
        ).fetchall()
    assert [row[0] for row in order] == [2, 3, 1]  # given first, read last; the others in their order


def test_a_producer_outranked_by_a_running_one_keeps_to_a_share_of_the_budget(
    settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    budget, batch_bytes = 512 * 1024, 32 * 1024
    share = budget * OUTRANKED_SHARE
    monorepo = _monorepo(tmp_path / "mono", 1200)  # about 1.4 MB: more than the budget
    env = {
        **cli_env(settings),
        "PARSEFLEET_MAX_PENDING_BYTES": str(budget),
        "PARSEFLEET_BATCH_MAX_BYTES": str(batch_bytes),
        "PARSEFLEET_MAX_PENDING_BATCHES": "10000",
    }
    assert settings.redis_url
    higher = ProducerLease(settings.redis_url, "a-run-of-priority-5", settings.heartbeat_s, priority=5)
    higher.start()
    producer = subprocess.Popen(
        [*PARSEFLEET, "submit", "--no-progress", "--priority", "1", str(monorepo)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples: list[tuple[int, bool]] = []  # (bytes pending, whether the higher producer had stopped)
    stop, released = threading.Event(), threading.Event()

    def sample() -> None:
        client = redis.Redis.from_url(settings.redis_url or "")
        while not stop.is_set():
            samples.append((_outstanding_bytes(client), released.is_set()))
            stop.wait(0.02)
        client.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        # no worker: the producer fills its share and waits there while the higher one runs
        wait_until(lambda: _outstanding_bytes(clean_redis) > share - batch_bytes, "the share filled", 300)
        released.set()
        higher.stop()
        wait_until(lambda: _outstanding_bytes(clean_redis) > budget / 2, "the whole budget used", 300)
        assert producer.poll() is None  # still held by the budget
    finally:
        stop.set()
        sampler.join()
        producer.kill()
        producer.communicate()
    held = [pending for pending, after in samples if not after]
    assert held and max(held) <= share + batch_bytes
