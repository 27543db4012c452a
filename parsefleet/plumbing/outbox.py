"""The outbox: every batch sent and not yet finished, kept in Redis until a worker is done with it.

kombu's Redis transport hands a message to a worker with BRPOP and only then records it as
unacknowledged. A worker whose main process dies, or whose network is cut, between the two has
taken the message out of Redis without a trace: no visibility timeout brings it back, and its
run never finishes (seen in tests/test_faults.py). So whoever sends a batch first keeps its payload
here under the batch id (``Outbox.keep``), which is also its task id (``send``); the worker forgets it when the task
ends by itself (parsefleet.workers.attempts.Attempts.finish); and a sweep in every worker's main process
(parsefleet.workers.sweeper) sends again a batch that Redis holds neither in its queue nor as unacknowledged,
seen so at two sweeps at least ``grace_s`` apart (a message is outside both only for
milliseconds: between BRPOP and kombu's record, or while kombu restores it to its queue). The
resend carries the same batch id, so if the batch was not lost after all, the store's claim by batch
id makes the second delivery change nothing.

The outbox is also where a worker reads the batch (a claim check): the Celery message carries the
batch id and no payload, so Redis keeps one copy of each batch in flight, here, instead of one in
its queue, one in kombu's unacknowledged hash and one here; the worker's main process, which
receives, records and hands over every message, handles a few hundred bytes per batch instead of
the batch. A message that does carry its payload (sent by an earlier version) is parsed from it.
Bounded, as the queues are, by ``max_pending_batches`` per language plus the batches being parsed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import redis
from celery import Celery

from parsefleet.contract.names import (
    KOMBU_UNACKED_KEY,
    OUTBOX_KEY,
    OUTBOX_META_KEY,
    OUTBOX_MISSING_KEY,
    OUTBOX_SWEEP_LOCK_KEY,
    PARSE_BATCH_TASK,
    QUEUES,
)

__all__ = ["Kept", "Outbox", "fetch", "forget", "payload_of", "send"]

_PRESENT_TASKS = (Path(__file__).parent / "lua" / "present_tasks.lua").read_text()


@dataclass(frozen=True, slots=True)
class Kept:
    """One batch in the outbox: its id (= task id), queue and payload as sent, and its source bytes
    (0 when unknown: the payload's length stands in)."""

    batch_id: str
    queue: str
    payload: bytes
    source_bytes: int = 0


def forget(pipe: redis.client.Pipeline, batch_id: str) -> None:
    """Queue, on ``pipe``, the commands that drop a finished batch from the outbox."""
    pipe.hdel(OUTBOX_KEY, batch_id)
    pipe.hdel(OUTBOX_META_KEY, batch_id)
    pipe.hdel(OUTBOX_MISSING_KEY, batch_id)


def fetch(pipe: redis.client.Pipeline, batch_id: str) -> None:
    """Queue, on ``pipe``, the command that reads a kept batch (its result goes to ``payload_of``)."""
    pipe.hget(OUTBOX_KEY, batch_id)


def payload_of(record: bytes | str | None) -> bytes | None:
    """The payload of an outbox record as ``fetch`` read it; None when the batch is not kept."""
    return None if record is None else _unpack(record)[1]


def send(app: Celery, kept: Kept, **options: Any) -> None:
    """Send a batch kept in the outbox (``Outbox.keep`` first), with its batch id as task id; the
    message carries no payload: the worker reads it from the outbox."""
    app.send_task(
        PARSE_BATCH_TASK,
        args=[None, time.time()],
        queue=kept.queue,
        task_id=kept.batch_id,
        serializer="msgpack",
        **options,
    )


class Outbox:
    """The batches in flight, on one Redis client; redis errors propagate (callers translate them)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._present = client.register_script(_PRESENT_TASKS)

    def keep(self, kept: Kept, now_s: float | None = None) -> None:
        """Remember one batch until it is finished, with its queue, enqueue time and source bytes
        beside it (``OUTBOX_META_KEY``, one transaction: both or neither)."""
        size = kept.source_bytes or len(kept.payload)
        meta = msgpack.packb([kept.queue, time.time() if now_s is None else now_s, size], use_bin_type=True)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(OUTBOX_KEY, kept.batch_id, msgpack.packb([kept.queue, kept.payload], use_bin_type=True))
        pipe.hset(OUTBOX_META_KEY, kept.batch_id, meta)
        pipe.execute()

    def holds(self, batch_ids: list[str]) -> set[str]:
        """Those of ``batch_ids`` that are kept."""
        if not batch_ids:
            return set()
        found = self.client.hmget(OUTBOX_KEY, batch_ids)
        return {batch_id for batch_id, record in zip(batch_ids, found, strict=True) if record is not None}

    def count(self) -> int:
        """Batches sent and not yet finished."""
        return int(self.client.hlen(OUTBOX_KEY))

    def claim_sweep(self, owner: str, period_s: float) -> bool:
        """True for one caller per ``period_s`` across the fleet: that one sweeps."""
        return bool(self.client.set(OUTBOX_SWEEP_LOCK_KEY, owner, nx=True, px=max(1, int(period_s * 1000))))

    def lost(self, now_s: float, grace_s: float) -> list[Kept]:
        """The batches to send again: absent from Redis's queues and unacknowledged messages now and
        at an earlier sweep at least ``grace_s`` before ``now_s``. Returning one restarts its grace."""
        kept = {_text(batch_id) for batch_id in self.client.hkeys(OUTBOX_KEY)}
        present = {_text(task_id) for task_id in self._present(keys=[*QUEUES.values(), KOMBU_UNACKED_KEY])}
        absent = kept - present
        marks = {_text(batch_id): float(at_s) for batch_id, at_s in self.client.hgetall(OUTBOX_MISSING_KEY).items()}
        due = sorted(batch_id for batch_id in absent if now_s - marks.get(batch_id, now_s) >= grace_s)
        pipe = self.client.pipeline(transaction=False)
        for batch_id in set(marks) - absent:
            pipe.hdel(OUTBOX_MISSING_KEY, batch_id)
        for batch_id in absent - set(marks) | set(due):
            pipe.hset(OUTBOX_MISSING_KEY, batch_id, now_s)
        pipe.execute()
        if not due:
            return []
        records = self.client.hmget(OUTBOX_KEY, due)
        return [_read(batch_id, record) for batch_id, record in zip(due, records, strict=True) if record is not None]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _unpack(record: bytes | str) -> tuple[str, bytes]:
    """(queue, payload) of an outbox record, as ``Outbox.keep`` packed it."""
    queue, payload = msgpack.unpackb(record.encode() if isinstance(record, str) else record, raw=False)
    return str(queue), bytes(payload)


def _read(batch_id: str, record: bytes | str) -> Kept:
    return Kept(batch_id, *_unpack(record))
