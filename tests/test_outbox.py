"""The outbox against real Redis and kombu: a batch waiting in its queue or held unacknowledged is
never taken for lost; one that left Redis unrecorded is, once its grace has passed."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import msgpack
import pytest
import redis
from celery import Celery
from kombu import Connection

from parsefleet.contract.batch import Batch, BatchFile, FileRef, encode_batch
from parsefleet.contract.names import KOMBU_UNACKED_KEY, OUTBOX_KEY, OUTBOX_MISSING_KEY, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import celery_config, kombu_url
from parsefleet.plumbing.outbox import Kept, Outbox, payload_of, send
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.producer.submission import blob_hash
from parsefleet.workers.attempts import Attempts

pytestmark = pytest.mark.service

_GRACE_S = 30.0


def _batch(index: int) -> Batch:
    content = f"def f{index}():\n    return {index}\n".encode()
    run_id = str(uuid.uuid4())
    ref = FileRef(1, f"m{index}.py", blob_hash(content), "python", len(content))
    return Batch(f"{run_id}:{index:06d}", run_id, "python", (BatchFile(ref, content),))


@pytest.fixture
def sent(clean_redis: redis.Redis, redis_url: str) -> Iterator[list[Batch]]:
    """Three batches sent by the producer's Enqueuer, no worker running."""
    batches = [_batch(index) for index in range(3)]
    enqueuer = Enqueuer(Settings(redis_url=redis_url), redis_url)
    try:
        for batch in batches:
            enqueuer.send(batch)
    finally:
        enqueuer.close()
    yield batches


def test_the_message_names_its_batch_and_the_outbox_holds_the_only_copy(
    sent: list[Batch], clean_redis: redis.Redis
) -> None:
    queued = [json.loads(raw) for raw in clean_redis.lrange(queue_for("python"), 0, -1)]
    assert sorted(message["headers"]["id"] for message in queued) == sorted(batch.batch_id for batch in sent)
    for message in queued:
        args, _kwargs, _embed = msgpack.unpackb(base64.b64decode(message["body"]), raw=False)  # Celery protocol 2
        assert args[0] is None  # the payload argument
        assert len(base64.b64decode(message["body"])) < 64
    records = clean_redis.hgetall(OUTBOX_KEY)
    for batch in sent:
        assert payload_of(records[batch.batch_id.encode()]) == encode_batch(batch)


def test_only_a_batch_missing_from_queue_and_unacked_for_its_grace_is_lost(
    sent: list[Batch], clean_redis: redis.Redis, redis_url: str
) -> None:
    delivered, dropped, queued = sent  # the queue hands out the oldest first
    app = Celery(set_as_current=False)
    app.conf.update(celery_config(Settings(), redis_url))
    with Connection(kombu_url(redis_url)) as connection:
        # a worker's delivery, recorded in kombu's hash of unacknowledged messages
        assert connection.default_channel.basic_get(queue_for("python"), no_ack=False) is not None
        assert clean_redis.hlen(KOMBU_UNACKED_KEY) == 1
        # a delivery whose worker died before kombu recorded it: gone from Redis without a trace
        raw = clean_redis.rpop(queue_for("python"))
        assert isinstance(raw, bytes) and json.loads(raw)["headers"]["id"] == dropped.batch_id
        outbox = Outbox(clean_redis)
        assert outbox.count() == 3
        assert outbox.lost(1000.0, _GRACE_S) == []  # first sighting of the gap
        assert clean_redis.hkeys(OUTBOX_MISSING_KEY) == [dropped.batch_id.encode()]
        assert outbox.lost(1000.0 + _GRACE_S - 1, _GRACE_S) == []
        lost = outbox.lost(1000.0 + _GRACE_S, _GRACE_S)
        assert lost == [Kept(dropped.batch_id, queue_for("python"), encode_batch(dropped))]
        assert outbox.lost(1000.0 + _GRACE_S + 1, _GRACE_S) == []  # its grace restarts once returned
        send(app, lost[0])  # sent again, it waits in its queue: no longer missing
        assert outbox.lost(5000.0, _GRACE_S) == []
        assert clean_redis.hlen(OUTBOX_MISSING_KEY) == 0
        assert outbox.count() == 3 and {delivered.batch_id, queued.batch_id} < {
            key.decode() for key in clean_redis.hkeys(OUTBOX_KEY)
        }


def test_a_finished_task_leaves_the_outbox(sent: list[Batch], clean_redis: redis.Redis, redis_url: str) -> None:
    first, second, third = sent
    clean_redis.delete(queue_for("python"))  # every message gone: all three look lost
    outbox = Outbox(clean_redis)
    outbox.lost(0.0, _GRACE_S)
    assert clean_redis.hlen(OUTBOX_MISSING_KEY) == 3
    Attempts(redis_url).finish(first.batch_id)
    Attempts(redis_url).finish(second.batch_id)
    assert outbox.count() == 1
    assert clean_redis.hlen(OUTBOX_MISSING_KEY) == 1
    assert [kept.batch_id for kept in outbox.lost(_GRACE_S, _GRACE_S)] == [third.batch_id]


def test_one_sweeper_per_period(clean_redis: redis.Redis) -> None:
    outbox = Outbox(clean_redis)
    assert outbox.claim_sweep("a", 60)
    assert not outbox.claim_sweep("b", 60)
    clean_redis.delete("parsefleet:outbox:sweep")
    assert outbox.claim_sweep("b", 60)
