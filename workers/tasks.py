"""The parse task: decode a batch, outline its files, commit the results, then acknowledge."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task
from celery.exceptions import Reject, Retry

from common import dead_letter
from common.batch import Batch, decode_batch, encode_batch
from common.broker import redis_client, translated
from common.errors import BatchFormatError, StoreRejected, StoreUnavailable
from common.flag import FlagCache
from common.names import PARSE_BATCH_TASK, queue_for
from common.outbox import Kept, Outbox, send
from workers.app import app, child_budget_mb, settings
from workers.attempts import Attempts
from workers.emitter import Emitter
from workers.outcome import BatchOutcome, outline_batch
from workers.poison import CRASH, crash_outcome, halves
from workers.store import BatchTiming, Store, now_utc

__all__ = ["parse_batch"]

log = logging.getLogger(__name__)

_RETRY_MAX_S = 60
_store = Store(settings.database_url or "")
_attempts = Attempts(settings.redis_url or "")
# Step 2 telemetry (flag telemetry.v2.parser_cli): which batches get per-batch figures.
_flag = FlagCache(settings.redis_url or "", settings.flag_cache_ttl_s)
_emitter = Emitter(settings)


@app.task(name=PARSE_BATCH_TASK, bind=True, acks_late=True, max_retries=None)
def parse_batch(self: Task[Any, Any], payload: bytes | None, enqueued_at_s: float) -> dict[str, int]:
    """Parse one batch; retried with backoff while PostgreSQL is unreachable, never dropped.

    The message names the batch (its task id) and carries no payload: the batch is read from the
    outbox (common/outbox.py) in the round trip that counts the start. Every start is counted
    (workers.attempts) until it ends by itself: a batch whose worker keeps dying is split, then its
    file recorded as ``crash`` (workers.poison). An unexpected error requeues the batch, so a file
    that trips a bug ends the same way instead of being dropped.
    """
    task_id = str(self.request.id)
    start = _attempts.begin(task_id)
    payload = start.kept_payload if payload is None else payload
    if payload is None:
        return _not_kept(task_id, reached=start.reached)
    try:
        result = _attempt(self, payload, enqueued_at_s, start.count)
    except Retry:
        _attempts.give_back(task_id)
        raise
    except Exception as exc:
        log.exception("task %s: unexpected error on attempt %d; requeued", task_id, start.count)
        raise Reject(str(exc), requeue=True) from exc
    _attempts.finish(task_id)
    return result


def _not_kept(task_id: str, *, reached: bool) -> dict[str, int]:
    """A message whose batch the outbox does not hold: finished by an earlier delivery (a resend
    that was not needed), or unreadable while Redis is unreachable (then requeued)."""
    if not reached:
        log.warning("task %s: Redis unreachable, its batch cannot be read; requeued", task_id)
        raise Reject("batch unreadable: Redis unreachable", requeue=True)
    log.info("task %s: finished before (no longer in the outbox); nothing to do", task_id)
    _attempts.finish(task_id)
    return {"files": 0, "written": 0}


def _attempt(task: Task[Any, Any], payload: bytes, enqueued_at_s: float, attempt: int) -> dict[str, int]:
    started_s = time.time()
    task_id = str(task.request.id)
    if attempt >= 2 * settings.poison_deliveries:
        return _dead(task_id, f"its worker died {attempt - 1} times, even once split; not retried", payload)
    try:
        batch = decode_batch(payload)
    except BatchFormatError as exc:
        return _dead(task_id, str(exc), payload)
    try:
        if attempt >= settings.poison_deliveries:
            return _isolate(task, batch, attempt - 1)
        return _parse(task, batch, started_s, enqueued_at_s)
    except StoreUnavailable as exc:
        countdown_s = min(_RETRY_MAX_S, 2 ** min(task.request.retries, 6))
        log.warning("batch %s: store unavailable, retry in %d s: %s", batch.batch_id, countdown_s, exc)
        raise task.retry(exc=exc, countdown=countdown_s) from exc
    except StoreRejected as exc:
        return _dead(task_id, str(exc), payload)


def _parse(task: Task[Any, Any], batch: Batch, started_s: float, enqueued_at_s: float) -> dict[str, int]:
    outcome = outline_batch(batch, settings.parse_timeout_s, child_budget_mb(settings))
    timing = BatchTiming(str(task.request.hostname), max(0.0, (started_s - enqueued_at_s) * 1000), now_utc())
    written = _commit(outcome, timing)
    if not written and _store.split_into(batch.batch_id):
        _send_parts(task, batch)  # an earlier delivery split it and may have died before sending them
    log.info(
        "batch %s: %s %d files %.1f ms%s",
        batch.batch_id,
        batch.language,
        len(batch.files),
        outcome.duration_ms,
        "" if written else " (already stored)",
    )
    return {"files": len(batch.files), "written": int(written)}


def _isolate(task: Task[Any, Any], batch: Batch, deaths: int) -> dict[str, int]:
    """The batch's worker died ``deaths`` times: split it in halves, or record its one file as crash."""
    worker = str(task.request.hostname)
    if len(batch.files) < 2:
        written = _commit(crash_outcome(batch, deaths), BatchTiming(worker, None, now_utc()))
        paths = ", ".join(item.ref.path for item in batch.files)
        log.error("batch %s: %s killed its worker %d times; recorded as %s", batch.batch_id, paths, deaths, CRASH)
        return {"files": len(batch.files), "written": int(written)}
    if _store.split(batch, halves(batch), worker):
        _send_parts(task, batch)
        log.warning("batch %s: its worker died %d times; split in two", batch.batch_id, deaths)
    return {"files": 0, "written": 0}


def _send_parts(task: Task[Any, Any], batch: Batch) -> None:
    """Send the halves of a split batch through the outbox; their task ids are their batch ids, so
    resends share a count."""
    with translated(settings.redis_url or ""):
        outbox = Outbox(redis_client(settings.redis_url or ""))
        for part in halves(batch):
            kept = Kept(part.batch_id, queue_for(part.language), encode_batch(part))
            outbox.keep(kept)
            send(task.app, kept)


def _commit(outcome: BatchOutcome, timing: BatchTiming) -> bool:
    step2 = _flag.current().samples(outcome.batch.batch_id)
    written = _store.write(outcome, timing, step2=step2)
    if written and step2:
        _emitter.emit(outcome, timing)
    return written


def _dead(task_id: str, reason: str, payload: bytes) -> dict[str, int]:
    log.error("task %s: %s; kept in the dead-letter list", task_id, reason)
    with translated(settings.redis_url or ""):
        dead_letter.push(redis_client(settings.redis_url or ""), reason, payload)
    return {"files": 0, "written": 0}
