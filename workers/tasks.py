"""The parse task: decode a batch, outline its files, commit the results, then acknowledge."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task

from common import dead_letter
from common.batch import decode_batch
from common.broker import redis_client, translated
from common.errors import BatchFormatError, StoreRejected, StoreUnavailable
from common.metrics import Metrics
from common.names import METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL, PARSE_BATCH_TASK, queue_for
from workers.app import app, child_budget_mb, settings
from workers.outcome import BatchOutcome, outline_batch
from workers.store import BatchTiming, Store, now_utc

__all__ = ["parse_batch"]

log = logging.getLogger(__name__)

_RETRY_MAX_S = 60
_store = Store(settings.database_url or "")
_metrics = Metrics(settings)


@app.task(name=PARSE_BATCH_TASK, bind=True, acks_late=True, max_retries=None)
def parse_batch(self: Task[Any, Any], payload: bytes, enqueued_at_s: float) -> dict[str, int]:
    """Parse one batch; retried with backoff while PostgreSQL is unreachable, never dropped."""
    started_s = time.time()
    try:
        batch = decode_batch(payload)
    except BatchFormatError as exc:
        return _dead(str(self.request.id), str(exc), payload)
    outcome = outline_batch(batch, settings.parse_timeout_s, child_budget_mb(settings))
    timing = BatchTiming(str(self.request.hostname), max(0.0, (started_s - enqueued_at_s) * 1000), now_utc())
    try:
        written = _store.write(outcome, timing)
    except StoreUnavailable as exc:
        countdown_s = min(_RETRY_MAX_S, 2 ** min(self.request.retries, 6))
        log.warning("batch %s: store unavailable, retry in %d s: %s", batch.batch_id, countdown_s, exc)
        raise self.retry(exc=exc, countdown=countdown_s) from exc
    except StoreRejected as exc:
        return _dead(str(self.request.id), str(exc), payload)
    if written:
        _emit(outcome, timing.worker)
    log.info(
        "batch %s: %s %d files %.1f ms%s",
        batch.batch_id,
        batch.language,
        len(batch.files),
        outcome.duration_ms,
        "" if written else " (already stored)",
    )
    return {"files": len(batch.files), "written": int(written)}


def _dead(task_id: str, reason: str, payload: bytes) -> dict[str, int]:
    log.error("task %s: %s; kept in the dead-letter list", task_id, reason)
    with translated(settings.redis_url or ""):
        dead_letter.push(redis_client(settings.redis_url or ""), reason, payload)
    return {"files": 0, "written": 0}


def _emit(outcome: BatchOutcome, worker: str) -> None:
    language = outcome.batch.language
    tags = {"language": language, "queue": queue_for(language), "worker": worker}
    _metrics.timing_ms(METRIC_PARSER_DURATION_MS, outcome.duration_ms, tags)
    for item in outcome.files:
        if item.failure_kind is not None:
            _metrics.count(METRIC_PARSER_FAILURE_TOTAL, 1, {**tags, "kind": item.failure_kind})
