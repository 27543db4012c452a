"""Send batches to their language's Celery queue, holding back while a queue is full.

The producer names the task (``parsefleet.parse_batch``) and never imports worker code. Each batch
is kept in the outbox (common/outbox.py) before it is sent, so that one Redis hands to a worker
that dies before recording it is sent again instead of lost. While Redis is unreachable (a
restart, a failover) it keeps trying for ``broker_retry_s``: kombu retries the send, and the
queue-depth check and the outbox retry here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import kombu.exceptions
from celery import Celery

from parsefleet.contract.batch import Batch, encode_batch
from parsefleet.contract.errors import BrokerUnavailable
from parsefleet.contract.names import queue_for
from parsefleet.contract.parse_rate import slowest_rates
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.backoff import Backoff
from parsefleet.plumbing.broker import celery_config, redis_client, translated
from parsefleet.plumbing.fleet import backlog
from parsefleet.plumbing.outbox import Kept, Outbox, send
from parsefleet.plumbing.parse_rates import stored_rates
from parsefleet.plumbing.redaction import shown_url

__all__ = ["OUTRANKED_SHARE", "Enqueuer"]

T = TypeVar("T")

_POLL_MIN_S = 0.01
_POLL_MAX_S = 0.5
_SEND_RETRY_MAX_S = 2.0
OUTRANKED_SHARE = 0.25  # of the pending-bytes budget, for a producer outranked by a running one
_OUTRANKED_CHECK_S = 0.5


class Enqueuer:
    """Sends batches; waits while a queue holds ``max_pending_batches`` or more, or while the batches
    kept in the outbox (sent and not finished, every queue, every producer) hold ``max_pending_bytes``
    of source or more (backpressure by count and by bytes); ``OUTRANKED_SHARE`` of it while
    ``outranked()`` (a producer of a higher priority is running: producer/lease.py; asked at most
    every ``_OUTRANKED_CHECK_S``). A batch larger
    than the budget still goes, alone, once nothing else is pending."""

    def __init__(self, settings: Settings, redis_url: str, *, outranked: Callable[[], bool] | None = None) -> None:
        self.redis_url = redis_url
        self.max_pending = settings.max_pending_batches
        self.max_pending_bytes = settings.max_pending_bytes
        self.broker_retry_s = settings.broker_retry_s
        self.redis = redis_client(redis_url)
        self.outbox = Outbox(self.redis)
        self.app = Celery("parsefleet-producer", set_as_current=False)
        self.app.conf.update(celery_config(settings, redis_url))
        self.waited_s = 0.0
        self._outranked = outranked or (lambda: False)
        self._outranked_at: tuple[float, bool] = (-_OUTRANKED_CHECK_S, False)

    def send(self, batch: Batch) -> None:
        """Enqueue one batch once its queue has room."""
        queue = queue_for(batch.language)
        self._wait_for_room(queue, batch.size_bytes)
        kept = Kept(batch.batch_id, queue, encode_batch(batch), batch.size_bytes)
        self._retrying(lambda: self.outbox.keep(kept))
        try:
            send(
                self.app,
                kept,
                retry=True,
                retry_policy={
                    "max_retries": max(1, int(self.broker_retry_s / _SEND_RETRY_MAX_S)),
                    "interval_start": 0.2,
                    "interval_step": 0.5,
                    "interval_max": _SEND_RETRY_MAX_S,
                },
            )
        except kombu.exceptions.OperationalError as exc:
            raise BrokerUnavailable(f"Redis at {shown_url(self.redis_url)} refused a batch ({exc})") from exc

    def depth(self, queue: str) -> int:
        """Batches waiting in one queue; raises BrokerUnavailable once Redis has been unreachable for
        ``broker_retry_s``."""
        return self._retrying(lambda: int(self.redis.llen(queue)))

    def parse_rates(self) -> dict[str, float]:
        """Per language, the bytes per outline-second the workers measured (their slowest host class)."""
        return slowest_rates(self._retrying(lambda: stored_rates(self.redis)))

    def close(self) -> None:
        """Release broker connections."""
        self.app.close()
        self.redis.close()

    def _retrying(self, command: Callable[[], T]) -> T:
        """``command``'s result, retried while Redis is unreachable, for up to ``broker_retry_s``."""
        backoff = Backoff(self.broker_retry_s, _POLL_MIN_S, _POLL_MAX_S * 4)
        while True:
            try:
                with translated(self.redis_url):
                    return command()
            except BrokerUnavailable as exc:
                backoff.pause(exc)

    def pending_bytes(self) -> int:
        """Source bytes of the batches kept in the outbox (sent and not finished), every queue."""
        return self._retrying(lambda: sum(queue.outstanding_bytes for queue in backlog(self.redis).values()))

    def _wait_for_room(self, queue: str, size_bytes: int) -> None:
        pause_s = _POLL_MIN_S
        while not self._has_room(queue, size_bytes):
            time.sleep(pause_s)
            self.waited_s += pause_s
            pause_s = min(pause_s * 2, _POLL_MAX_S)

    def _has_room(self, queue: str, size_bytes: int) -> bool:
        if self.depth(queue) >= self.max_pending:
            return False
        pending = self.pending_bytes()
        budget = self.max_pending_bytes * OUTRANKED_SHARE if self._is_outranked() else self.max_pending_bytes
        return pending == 0 or pending + size_bytes <= budget

    def _is_outranked(self) -> bool:
        asked_s, outranked = self._outranked_at
        now_s = time.monotonic()
        if now_s - asked_s >= _OUTRANKED_CHECK_S:
            outranked = self._outranked()
            self._outranked_at = (now_s, outranked)
        return outranked
