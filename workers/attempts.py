"""Attempts: how many times one task started on a worker without finishing, counted in Redis.

A pool child that dies mid-batch (segfault, OOM kill, Celery's hard time limit) cannot say so;
``task_reject_on_worker_lost`` just requeues its batch. So every start increments
``parsefleet:attempts:<task id>`` *before* parsing, and every start that ends by itself (stored,
dead-lettered, or handed to a retry) takes its increment back. What remains counts the deaths:
the task module splits a batch once its count reaches ``poison_deliveries``.

A start also reads its batch from the outbox (common/outbox.py; the message carries only the batch
id), in the same round trip as the count; a start that ends by itself for good drops the batch from
the outbox, in the same round trip as its count: the task id is the batch id.

Redeliveries keep the task id (worker lost, visibility timeout, ``Task.retry``), so they share a
counter; a split's halves get their own. Counters expire after a day. When Redis cannot be
reached the count is unknown (``Start.reached`` is False) and a batch that came with its payload
is parsed as a first attempt: poison detection waits for Redis, parsing does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis

from parsefleet.contract.errors import BrokerUnavailable
from parsefleet.contract.names import ATTEMPTS_KEY_PREFIX
from parsefleet.plumbing import unknown_runs
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import fetch, forget, payload_of

__all__ = ["ATTEMPTS_TTL_S", "Attempts", "Start"]

log = logging.getLogger(__name__)

ATTEMPTS_TTL_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Start:
    """One start of a task: its unfinished starts, this one included, and its batch as kept in the
    outbox (None when it is not kept: finished already, or Redis unreachable)."""

    count: int
    kept_payload: bytes | None
    reached: bool = True


class Attempts:
    """One worker process's counter of unfinished starts per task id (connection opened lazily)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._client: redis.Redis | None = None

    def begin(self, task_id: str) -> Start:
        """Count one start of ``task_id`` and read its batch from the outbox, in one round trip."""
        try:
            with translated(self.redis_url):
                pipe = self._redis().pipeline(transaction=False)
                pipe.incr(ATTEMPTS_KEY_PREFIX + task_id)
                pipe.expire(ATTEMPTS_KEY_PREFIX + task_id, ATTEMPTS_TTL_S)
                fetch(pipe, task_id)
                started, _, record = pipe.execute()
                return Start(int(started), payload_of(record))
        except BrokerUnavailable as exc:
            self._drop()
            log.warning("task %s: attempts not counted (%s)", task_id, exc)
            return Start(1, None, reached=False)

    def finish(self, task_id: str) -> None:
        """The task ended by itself for good: forget its count, and its batch in the outbox."""
        self._quietly(task_id, lambda client, key: _finished(client, key, task_id))

    def give_back(self, task_id: str) -> None:
        """The task ended by itself but runs again (a retry): take this start's increment back."""
        self._quietly(task_id, lambda client, key: client.decr(key))

    def _quietly(self, task_id: str, command: Callable[[redis.Redis, str], object]) -> None:
        try:
            with translated(self.redis_url):
                command(self._redis(), ATTEMPTS_KEY_PREFIX + task_id)
        except BrokerUnavailable as exc:
            self._drop()
            log.warning(
                "task %s: attempts not updated (%s); the count expires in a day, the outbox sends it again",
                task_id,
                exc,
            )

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis_client(self.redis_url)
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _finished(client: redis.Redis, key: str, task_id: str) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.delete(key)
    forget(pipe, task_id)
    unknown_runs.forget(pipe, task_id)
    pipe.execute()
