"""The dead-letter list: batches no worker can process, kept in Redis for inspection.

Celery has no dead-letter queue on Redis (celery #4797), so parsefleet keeps its own list
(``parsefleet:dead_letter``) of msgpack records: reason, time, and the batch payload as sent.
"""

from __future__ import annotations

import time

import msgpack
import redis

from common.names import DEAD_LETTER_KEY

__all__ = ["DeadLetter", "count", "push"]

DeadLetter = dict[str, object]


def push(client: redis.Redis, reason: str, payload: bytes) -> None:
    """Keep one undeliverable batch."""
    record = {"reason": reason, "at_s": time.time(), "payload": payload}
    client.rpush(DEAD_LETTER_KEY, msgpack.packb(record, use_bin_type=True))


def count(client: redis.Redis) -> int:
    """Batches in the dead-letter list."""
    return int(client.llen(DEAD_LETTER_KEY))
