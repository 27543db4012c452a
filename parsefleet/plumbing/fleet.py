"""The fleet in Redis: heartbeats, what the workers did, the pause flag, the backlog, the advice.

Keys are named in parsefleet.contract.names. Every function takes a redis client and lets redis
errors propagate (callers translate them with ``parsefleet.plumbing.broker.translated``). The one
PostgreSQL write, a row of ``fleet_samples`` per sample, is ``record_sample``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from parsefleet.contract.heartbeat import Heartbeat, LanguageWork
from parsefleet.contract.names import (
    ADVISED_WORKERS_KEY,
    FLEET_SAMPLE_TURN_KEY,
    OUTBOX_META_KEY,
    PAUSED_KEY,
    PRODUCER_KEY_PREFIX,
    QUEUES,
    WORKER_KEY_PREFIX,
    WORKER_LAST_KEY,
    WORKER_WORK_KEY_PREFIX,
    WORKERS_KEY,
)
from parsefleet.plumbing.database import sql

__all__ = [
    "BEATS_TO_GONE",
    "Backlog",
    "Pause",
    "Sample",
    "advised_workers",
    "backlog",
    "beats",
    "claim_sample",
    "leave",
    "pause",
    "paused",
    "publish_advice",
    "record_sample",
    "record_work",
    "resume",
    "work_of",
    "write_beat",
]

# A worker whose heartbeat is this many periods old is gone (its key expires then).
BEATS_TO_GONE = 3
# What the pool children count stays this long after the worker's last batch.
_WORK_TTL_S = 7 * 24 * 3600
_HERE = Path(__file__).parent
_BACKLOG = (_HERE / "lua" / "queue_backlog.lua").read_text()


@dataclass(frozen=True, slots=True)
class Backlog:
    """One queue: batches and source bytes waiting, the oldest's enqueue time, and every batch kept
    for it (waiting or being parsed). ``unsized`` waiting batches have no size on record."""

    waiting: int
    waiting_bytes: int
    oldest_at: float | None
    unsized: int
    outstanding: int
    outstanding_bytes: int

    def as_dict(self, now_s: float) -> dict[str, object]:
        """JSON-ready data, the oldest's age in seconds at ``now_s``."""
        return {
            "waiting": self.waiting,
            "waiting_bytes": self.waiting_bytes,
            "oldest_age_s": None if self.oldest_at is None else round(max(0.0, now_s - self.oldest_at), 3),
            "unsized": self.unsized,
            "outstanding": self.outstanding,
            "outstanding_bytes": self.outstanding_bytes,
        }


@dataclass(frozen=True, slots=True)
class Pause:
    """The fleet-wide pause: since when, and who asked."""

    since: float
    by: str


def write_beat(client: redis.Redis, beat: Heartbeat, period_s: float) -> None:
    """Write one heartbeat: the live key (expiring after ``BEATS_TO_GONE`` periods), the last record
    and the registry's time, in one round trip."""
    record = beat.to_json()
    pipe = client.pipeline(transaction=False)
    pipe.set(WORKER_KEY_PREFIX + beat.worker_id, record, px=max(1, int(period_s * BEATS_TO_GONE * 1000)))
    pipe.hset(WORKER_LAST_KEY, beat.worker_id, record)
    pipe.zadd(WORKERS_KEY, {beat.worker_id: beat.beat_at})
    pipe.execute()


def leave(client: redis.Redis, beat: Heartbeat) -> None:
    """A worker's last beat as it exits by itself: no live key, its last record says so."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(WORKER_KEY_PREFIX + beat.worker_id)
    pipe.hset(WORKER_LAST_KEY, beat.worker_id, beat.to_json())
    pipe.zadd(WORKERS_KEY, {beat.worker_id: beat.beat_at})
    pipe.execute()


def beats(client: redis.Redis, now_s: float, keep_s: float) -> tuple[list[Heartbeat], list[Heartbeat]]:
    """(alive, gone): workers whose key is live, and the last beats of those whose key has gone
    within ``keep_s``. A read only: the workers forget older ones (``forget_gone``)."""
    known = [_text(name) for name in _names(client.zrangebyscore(WORKERS_KEY, now_s - keep_s, "+inf"))]
    if not known:
        return [], []
    live = client.mget([WORKER_KEY_PREFIX + name for name in known])
    last = client.hmget(WORKER_LAST_KEY, known)
    alive = [beat for raw in live if raw is not None and (beat := _beat(raw)) is not None]
    gone = [
        beat
        for raw_live, raw_last in zip(live, last, strict=True)
        if raw_live is None and raw_last is not None and (beat := _beat(raw_last)) is not None
    ]
    return alive, gone


def forget_gone(client: redis.Redis, now_s: float, keep_s: float) -> list[str]:
    """Forget the workers whose last beat is older than ``keep_s`` (each worker's heartbeat thread
    does it; readers never write): the ids forgotten."""
    forgotten = [_text(name) for name in _names(client.zrangebyscore(WORKERS_KEY, "-inf", f"({now_s - keep_s}"))]
    if forgotten:
        pipe = client.pipeline(transaction=False)
        pipe.zrem(WORKERS_KEY, *forgotten)
        pipe.hdel(WORKER_LAST_KEY, *forgotten)
        pipe.delete(*(WORKER_WORK_KEY_PREFIX + name for name in forgotten))
        pipe.execute()
    return forgotten


def record_work(
    client: redis.Redis, worker_id: str, language: str, source_bytes: int, *, parse_s: float, batch_s: float
) -> None:
    """Count one batch a pool child finished, under its worker's id (one round trip)."""
    key = WORKER_WORK_KEY_PREFIX + worker_id
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(key, f"{language}:batches", 1)
    pipe.hincrby(key, f"{language}:bytes", source_bytes)
    pipe.hincrbyfloat(key, f"{language}:parse_s", parse_s)
    pipe.hincrbyfloat(key, f"{language}:batch_s", batch_s)
    pipe.hset(key, "last_batch_at", time.time())
    pipe.expire(key, _WORK_TTL_S)
    pipe.execute()


def work_of(client: redis.Redis, worker_id: str) -> tuple[dict[str, LanguageWork], float | None]:
    """What a worker's pool children counted: per language, and when the last batch finished."""
    raw = {_text(name): _text(value) for name, value in client.hgetall(WORKER_WORK_KEY_PREFIX + worker_id).items()}
    last = raw.pop("last_batch_at", None)
    languages: dict[str, LanguageWork] = {}
    for lang in sorted({name.split(":", 1)[0] for name in raw}):
        languages[lang] = LanguageWork(
            int(raw.get(f"{lang}:batches", 0)),
            int(raw.get(f"{lang}:bytes", 0)),
            float(raw.get(f"{lang}:parse_s", 0)),
            float(raw.get(f"{lang}:batch_s", 0)),
        )
    return languages, (float(last) if last is not None else None)


def pause(client: redis.Redis, by: str) -> Pause:
    """Pause the fleet (kept as it was if already paused); return the pause in force."""
    client.set(PAUSED_KEY, json.dumps({"since": time.time(), "by": by}), nx=True)
    found = paused(client)
    assert found is not None
    return found


def resume(client: redis.Redis) -> Pause | None:
    """Lift the pause; return the one lifted (None if the fleet was not paused)."""
    found = paused(client)
    client.delete(PAUSED_KEY)
    return found


def paused(client: redis.Redis) -> Pause | None:
    """The pause in force, or None."""
    raw = client.get(PAUSED_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Pause(float(data["since"]), str(data["by"]))
    except (ValueError, KeyError, TypeError):
        return Pause(0.0, "unknown")  # set by hand: paused all the same


def backlog(client: redis.Redis) -> dict[str, Backlog]:
    """Each language's backlog (one Lua call; see lua/queue_backlog.lua)."""
    found = client.eval(_BACKLOG, len(QUEUES) + 1, *QUEUES.values(), OUTBOX_META_KEY)
    count = len(QUEUES)
    result = {}
    for index, language in enumerate(QUEUES):
        waiting, waiting_bytes, oldest, unsized = found[index]
        outstanding, outstanding_bytes = found[count + index]
        oldest_at = float(_text(oldest)) if _text(oldest) else None
        result[language] = Backlog(
            int(waiting), int(waiting_bytes), oldest_at, int(unsized), int(outstanding), int(outstanding_bytes)
        )
    return result


def claim_sample(client: redis.Redis, owner: str, period_s: float) -> bool:
    """True for one caller per ``period_s`` across the fleet: that one samples it."""
    return bool(client.set(FLEET_SAMPLE_TURN_KEY, owner, nx=True, px=max(1, int(period_s * 1000))))


def publish_advice(client: redis.Redis, workers: int, period_s: float) -> None:
    """The advised worker count for autoscalers; it expires unless refreshed within a few periods."""
    client.set(ADVISED_WORKERS_KEY, str(workers), px=max(1, int(period_s * BEATS_TO_GONE * 1000)))


def advised_workers(client: redis.Redis) -> int | None:
    """The advised worker count last published, if still fresh."""
    raw = client.get(ADVISED_WORKERS_KEY)
    return None if raw is None else int(raw)


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of fleet_samples."""

    workers_alive: int
    workers_stalled: int
    paused: bool
    advised_workers: int
    queues: dict[str, Backlog]


def record_sample(conn: psycopg.Connection[tuple[object, ...]], sample: Sample, now_s: float) -> None:
    """Insert one sample of the fleet, one row per language (committed by the caller)."""
    rows = [
        {
            "at": now_s,
            "language": language,
            "waiting": queue.waiting,
            "waiting_bytes": queue.waiting_bytes,
            "oldest_s": None if queue.oldest_at is None else max(0.0, now_s - queue.oldest_at),
            "outstanding": queue.outstanding,
            "alive": sample.workers_alive,
            "stalled": sample.workers_stalled,
            "paused": sample.paused,
            "advised": sample.advised_workers,
        }
        for language, queue in sample.queues.items()
    ]
    with conn.cursor() as cursor:
        cursor.executemany(sql(_HERE, "fleet_sample"), rows)


def _names(found: object) -> list[bytes | str]:
    """Members of a sorted-set reply (without scores)."""
    assert isinstance(found, list)
    return [name for name in found if isinstance(name, bytes | str)]


def _beat(raw: bytes | str) -> Heartbeat | None:
    try:
        return Heartbeat.from_json(raw)
    except ValueError:
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def producers_alive(client: redis.Redis, run_ids: list[str]) -> set[str]:
    """Those of ``run_ids`` whose producer holds its lease (producer/lease.py; redis errors propagate)."""
    if not run_ids:
        return set()
    found = client.mget([PRODUCER_KEY_PREFIX + run_id for run_id in run_ids])
    return {run_id for run_id, holder in zip(run_ids, found, strict=True) if holder is not None}
