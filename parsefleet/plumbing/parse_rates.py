"""The parse-rate estimates in Redis (``PARSE_RATE_KEY``): added to by the pool children, read by the
producer and ``parsefleet status``. The arithmetic is parsefleet.contract.parse_rate's."""

from __future__ import annotations

import time

import redis

from parsefleet.contract.names import PARSE_RATE_KEY
from parsefleet.contract.parse_rate import ParseRate, rate_field

__all__ = ["RATE_TTL_S", "forget_rates", "record_rate", "stored_rates"]

# An estimate no batch has refreshed for this long is dropped with its key: the fleet that measured
# it may be gone, and the producer falls back to fixed bytes.
RATE_TTL_S = 24 * 3600


def record_rate(client: redis.Redis, language: str, host_class: str, source_bytes: int, outline_s: float) -> None:
    """Add one batch to its language's estimate (an optimistic transaction: two children finishing at
    once retry, none is lost)."""
    name = rate_field(language, host_class)

    def update(pipe: redis.client.Pipeline) -> None:
        current = ParseRate.loads(pipe.hget(PARSE_RATE_KEY, name))
        pipe.multi()
        pipe.hset(PARSE_RATE_KEY, name, current.updated(source_bytes, outline_s, time.time()).dumps())
        pipe.expire(PARSE_RATE_KEY, RATE_TTL_S)

    client.transaction(update, PARSE_RATE_KEY)


def stored_rates(client: redis.Redis) -> dict[str, ParseRate]:
    """Every stored estimate by field (``<language>@<host class>``)."""
    raw = client.hgetall(PARSE_RATE_KEY)
    return {_text(name): ParseRate.loads(value) for name, value in raw.items()}


def forget_rates(client: redis.Redis) -> None:
    """Drop every estimate (the bench, between hosts it simulates)."""
    client.delete(PARSE_RATE_KEY)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
