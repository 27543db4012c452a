"""Step 2 figures counted as they are emitted, per metric and UTC hour: one side of the reconciliation.

One Redis hash per hour, ``TELEMETRY_EMITTED_KEY_PREFIX + 'YYYY-MM-DDTHH'``, field = metric name,
value = figures emitted in that hour. A figure is counted in the hour of the timestamp it is
stored with (``batch_metrics.time``, ``cli_runs.time``), so emitted and stored fall in the same
hour. Hashes expire after 8 days, longer than the 72 h retention of the rows they are compared with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import redis

from parsefleet.contract.names import TELEMETRY_EMITTED_KEY_PREFIX
from parsefleet.plumbing.broker import redis_client, translated

__all__ = ["EmissionLedger", "hour_key", "hour_of"]

_KEEP_S = 8 * 24 * 3600


def hour_of(at: datetime) -> datetime:
    """The UTC hour that holds ``at``."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_key(at: datetime) -> str:
    """The Redis key of the hour that holds ``at``."""
    return TELEMETRY_EMITTED_KEY_PREFIX + hour_of(at).strftime("%Y-%m-%dT%H")


class EmissionLedger:
    """Counts in Redis; the client opens on first use (after a pool fork). Errors: BrokerUnavailable."""

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._redis: redis.Redis | None = None

    def add(self, counts: Mapping[str, int], at: datetime) -> None:
        """Count ``counts`` (metric -> figures) as emitted at ``at``."""
        key = hour_key(at)
        try:
            with translated(self._url), self._client().pipeline(transaction=False) as pipe:
                for metric, count in counts.items():
                    if count:
                        pipe.hincrby(key, metric, count)
                pipe.expire(key, _KEEP_S)
                pipe.execute()
        except BaseException:
            self._redis = None
            raise

    def read(self, hours: Iterable[datetime]) -> dict[datetime, dict[str, int]]:
        """Emitted counts per hour (hours with nothing emitted are left out)."""
        wanted = sorted({hour_of(at) for at in hours})
        with translated(self._url), self._client().pipeline(transaction=False) as pipe:
            for hour in wanted:
                pipe.hgetall(hour_key(hour))
            replies = pipe.execute()
        found: dict[datetime, dict[str, int]] = {}
        for hour, reply in zip(wanted, replies, strict=True):
            if reply:
                found[hour] = {field.decode(): int(value) for field, value in reply.items()}
        return found

    def forget(self, hours: Iterable[datetime], metrics: Iterable[str]) -> None:
        """Drop the counts of ``metrics`` in ``hours`` (their stored rows were deleted on purpose)."""
        names = list(metrics)
        with translated(self._url), self._client().pipeline(transaction=False) as pipe:
            for hour in {hour_of(at) for at in hours}:
                pipe.hdel(hour_key(hour), *names)
            pipe.execute()

    def _client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis_client(self._url)
        return self._redis
