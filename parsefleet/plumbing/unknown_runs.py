"""Batches of runs a worker's database does not know, kept in Redis while they are refused.

A worker pointed at another PostgreSQL than its producer's (same Redis) would commit batches of
runs its database never saw, and the real run would never finish. So the store refuses a batch
whose run it does not hold (workers/store.py, ``UnknownRun``); the worker records the refusal here
(``parsefleet:unknown_runs``: batch id -> run id, worker, database as shown, first and last
refusal, count) and requeues the batch with a warning, so that a worker on the right database may
take it; once ``unknown_run_wait_s`` has passed since its first refusal, the batch goes to the
dead-letter list (``parsefleet dead-letter replay`` sends it again). ``parsefleet status`` lists
the batches refused. A record goes when its batch finishes: committed by a worker that knows the
run, or dead-lettered (workers/attempts.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import redis

from parsefleet.contract.names import UNKNOWN_RUNS_KEY

__all__ = ["Refusal", "entries", "forget", "record"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A batch refused ``count`` times, from ``first_s`` to ``last_s`` (epoch seconds), the last
    time by ``worker`` on ``database`` (its URL without a password)."""

    batch_id: str
    run_id: str
    worker: str
    database: str
    first_s: float
    last_s: float
    count: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "batch_id": self.batch_id,
            "run_id": self.run_id,
            "worker": self.worker,
            "database": self.database,
            "first_s": self.first_s,
            "last_s": self.last_s,
            "refusals": self.count,
        }


def record(client: redis.Redis, batch_id: str, run_id: str, *, worker: str, database: str, now_s: float) -> Refusal:
    """Count one more refusal of ``batch_id``; the refusal as it now stands."""
    stored = client.hget(UNKNOWN_RUNS_KEY, batch_id)
    earlier = None if stored is None else _read(batch_id, stored)
    first_s, count = (now_s, 0) if earlier is None or earlier.count == 0 else (earlier.first_s, earlier.count)
    refusal = Refusal(batch_id, run_id, worker, database, first_s, now_s, count + 1)
    fields = [refusal.run_id, refusal.worker, refusal.database, refusal.first_s, refusal.last_s, refusal.count]
    client.hset(UNKNOWN_RUNS_KEY, batch_id, msgpack.packb(fields, use_bin_type=True))
    return refusal


def entries(client: redis.Redis) -> list[Refusal]:
    """Every batch refused and not finished, the earliest refused first."""
    refusals = [_read(_text(key), value) for key, value in client.hgetall(UNKNOWN_RUNS_KEY).items()]
    return sorted(refusals, key=lambda item: (item.first_s, item.batch_id))


def forget(pipe: redis.client.Pipeline, batch_id: str) -> None:
    """Queue, on ``pipe``, the command that drops a finished batch's record."""
    pipe.hdel(UNKNOWN_RUNS_KEY, batch_id)


def _read(batch_id: str, value: bytes | str) -> Refusal:
    try:
        run_id, worker, database, first_s, last_s, count = msgpack.unpackb(
            value.encode() if isinstance(value, str) else value, raw=False
        )
        return Refusal(batch_id, str(run_id), str(worker), str(database), float(first_s), float(last_s), int(count))
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        return Refusal(batch_id, "", "", f"unreadable record ({exc})", 0.0, 0.0, 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
