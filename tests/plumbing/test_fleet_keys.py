"""The fleet's Redis side on a real Redis: the outbox's meta written and removed with each batch,
the backlog read from the queue lists, heartbeats alive and gone, the pause flag."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from celery import Celery

from parsefleet.contract.heartbeat import Heartbeat
from parsefleet.contract.names import OUTBOX_META_KEY, WORKER_KEY_PREFIX, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import fleet
from parsefleet.plumbing.broker import celery_config
from parsefleet.plumbing.outbox import Kept, Outbox, forget, send

pytestmark = pytest.mark.service


@pytest.fixture
def producer(redis_url: str, clean_redis: redis.Redis) -> Iterator[Celery]:
    app = Celery("parsefleet-test-producer", set_as_current=False)
    app.conf.update(celery_config(Settings.from_env({}), redis_url))
    yield app
    app.close()


def test_backlog_counts_bytes_and_age_of_waiting_batches_and_forgets_them_with_the_outbox(
    clean_redis: redis.Redis, producer: Celery
) -> None:
    outbox = Outbox(clean_redis)
    now = time.time()
    for index, size in enumerate((1000, 3000)):
        kept = Kept(f"b{index}", queue_for("python"), b"payload", source_bytes=size)
        outbox.keep(kept, now_s=now - 60 + index)
        send(producer, kept)
    outbox.keep(Kept("held", queue_for("go"), b"x" * 7), now_s=now)  # kept, not queued: being parsed
    found = fleet.backlog(clean_redis)
    python, go = found["python"], found["go"]
    assert (python.waiting, python.waiting_bytes, python.unsized, python.outstanding) == (2, 4000, 0, 2)
    assert python.oldest_at == pytest.approx(now - 60)
    assert (go.waiting, go.outstanding, go.outstanding_bytes) == (0, 1, 7)  # the payload's length stands in
    pipe = clean_redis.pipeline()
    forget(pipe, "b0")
    pipe.execute()
    assert clean_redis.hexists(OUTBOX_META_KEY, "b0") is False
    assert fleet.backlog(clean_redis)["python"].unsized == 1  # still queued, its size gone with the outbox


def _beat(worker_id: str, at: float) -> Heartbeat:
    return Heartbeat(
        worker_id=worker_id, node="n@h", host="h", pid=1, state="running", started_at=at, beat_at=at,
        concurrency=1, slot_share=1.0, cpu_limit_pct=70, max_memory_mb=512, rss_bytes=1, cpu_share_1m=0.1,
        active=0, batches_done=0, last_batch_at=None, last_taken_at=None, stalled_since=None, period_s=1.0,
    )  # fmt: skip


def test_heartbeats_expire_into_gone_and_are_forgotten_after_the_keep(clean_redis: redis.Redis) -> None:
    now = time.time()
    fleet.write_beat(clean_redis, _beat("a:1", now), period_s=1.0)
    fleet.write_beat(clean_redis, _beat("b:2", now - 10), period_s=1.0)
    clean_redis.delete(WORKER_KEY_PREFIX + "b:2")  # as its expiry does
    fleet.write_beat(clean_redis, _beat("old:3", now - 7200), period_s=1.0)
    clean_redis.delete(WORKER_KEY_PREFIX + "old:3")
    clean_redis.set(WORKER_KEY_PREFIX + "junk", "not a heartbeat")
    clean_redis.zadd("parsefleet:workers", {"junk": now})
    alive, gone = fleet.beats(clean_redis, now, keep_s=3600)
    assert [beat.worker_id for beat in alive] == ["a:1"]
    assert [beat.worker_id for beat in gone] == ["b:2"]
    assert clean_redis.zscore("parsefleet:workers", "old:3") is not None  # a read forgets nothing
    assert fleet.forget_gone(clean_redis, now, keep_s=3600) == ["old:3"]
    assert clean_redis.zscore("parsefleet:workers", "old:3") is None
    assert clean_redis.hget("parsefleet:workers:last", "old:3") is None
    assert [beat.worker_id for beat in fleet.beats(clean_redis, now, keep_s=3600)[1]] == ["b:2"]
    assert 0 < int(clean_redis.pttl(WORKER_KEY_PREFIX + "a:1")) <= 3000  # three periods


def test_pause_is_kept_once_and_resume_lifts_it(clean_redis: redis.Redis) -> None:
    first = fleet.pause(clean_redis, "alice@h")
    again = fleet.pause(clean_redis, "bob@h")
    assert again == first and first.by == "alice@h"
    assert fleet.resume(clean_redis) == first
    assert fleet.paused(clean_redis) is None and fleet.resume(clean_redis) is None
    clean_redis.set("parsefleet:paused", "set by hand")
    found = fleet.paused(clean_redis)
    assert found is not None and found.by == "unknown"
