"""The dead-letter list: batches no worker can process, kept in Redis for inspection.

Celery has no dead-letter queue on Redis (celery #4797), so parsefleet keeps its own list
(``parsefleet:dead_letter``) of msgpack records: reason, time, and the batch payload as sent.
``parsefleet dead-letter list|replay`` shows them and sends them to the workers again; an entry is
named by a digest of its record, so ids need no counter and stay the same across listings.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import cast

import msgpack
import redis

from parsefleet.contract.names import DEAD_LETTER_KEY

__all__ = ["DeadLetter", "count", "entries", "push", "remove"]

_ID_HEX_DIGITS = 12


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One kept batch. ``record`` is the list item as stored, to remove exactly this entry."""

    entry_id: str
    reason: str
    at_s: float
    payload: bytes
    record: bytes


def push(client: redis.Redis, reason: str, payload: bytes) -> None:
    """Keep one undeliverable batch."""
    record = {"reason": reason, "at_s": time.time(), "payload": payload}
    client.rpush(DEAD_LETTER_KEY, msgpack.packb(record, use_bin_type=True))


def count(client: redis.Redis) -> int:
    """Batches in the dead-letter list."""
    return int(client.llen(DEAD_LETTER_KEY))


def entries(client: redis.Redis) -> list[DeadLetter]:
    """Every kept batch, oldest first."""
    records = client.lrange(DEAD_LETTER_KEY, 0, -1)
    return [_read(record if isinstance(record, bytes) else record.encode()) for record in records]


def remove(client: redis.Redis, entry: DeadLetter) -> bool:
    """Drop one entry (after it was sent again); False when it was no longer there."""
    # redis-py annotates LREM's value as str but sends bytes as they are: the record is binary msgpack
    return int(client.lrem(DEAD_LETTER_KEY, 1, cast(str, entry.record))) == 1


def _read(record: bytes) -> DeadLetter:
    entry_id = hashlib.sha1(record, usedforsecurity=False).hexdigest()[:_ID_HEX_DIGITS]
    try:
        body = msgpack.unpackb(record, raw=False)
        return DeadLetter(entry_id, str(body["reason"]), float(body["at_s"]), bytes(body["payload"]), record)
    except (msgpack.UnpackException, ValueError, TypeError, KeyError) as exc:
        return DeadLetter(entry_id, f"unreadable dead-letter record ({exc})", 0.0, b"", record)
