"""The parse task: decode a batch, outline its files, commit the results, then acknowledge.

``register(app)`` adds ``parsefleet.parse_batch`` to a worker's app; what one delivery does is a
``BatchRun`` of the app's ``Deliveries`` (the process's store, attempt counter, flag and emitter,
each connecting on first use, so that pool children never share a connection across a fork).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from celery import Task
from celery.exceptions import Reject, Retry

from parsefleet.contract.batch import Batch, BatchLimits, decode_batch, encode_batch
from parsefleet.contract.errors import BatchFormatError, ParseCancelled, StoreRejected, StoreUnavailable, UnknownRun
from parsefleet.contract.names import PARSE_BATCH_TASK, queue_for
from parsefleet.contract.paths import shown
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import dead_letter, unknown_runs
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import Kept, Outbox, send
from parsefleet.plumbing.redaction import shown_url
from parsefleet.telemetry.emitter import BatchFigures, Emitter
from parsefleet.telemetry.flag import FlagCache
from parsefleet.workers.attempts import Attempts
from parsefleet.workers.heartbeat import WorkCounter
from parsefleet.workers.limits import STUCK_SHARE, ParseBudget, stacks_if_stuck
from parsefleet.workers.outcome import BatchOutcome, outline_batch
from parsefleet.workers.poison import CRASH, crash_outcome, halves
from parsefleet.workers.store import BatchRows, BatchTiming, Store, now_utc

if TYPE_CHECKING:
    from parsefleet.workers.app import WorkerApp

__all__ = ["Deliveries", "figures_of", "register"]

log = logging.getLogger(__name__)

_RETRY_MAX_S = 60
_NOTHING = {"files": 0, "written": 0}


def register(app: WorkerApp) -> None:
    """Add the parse task to ``app``."""
    deliveries = Deliveries(app.settings)

    @app.task(name=PARSE_BATCH_TASK, bind=True, acks_late=True, max_retries=None)
    def parse_batch(self: Task[Any, Any], payload: bytes | None, enqueued_at_s: float) -> dict[str, int]:
        """Parse one batch; retried with backoff while PostgreSQL is unreachable, never dropped."""
        return deliveries.deliver(self, payload, enqueued_at_s)


class Deliveries:
    """What every delivery of a batch goes through, in one worker process.

    The message names the batch (its task id) and carries no payload: the batch is read from the
    outbox (plumbing/outbox.py) in the round trip that counts the start. Every start is counted
    (workers.attempts) until it ends by itself: a batch whose worker keeps dying is split, then its
    file recorded as ``crash`` (workers.poison). An unexpected error requeues the batch, so a file
    that trips a bug ends the same way instead of being dropped.
    """

    def __init__(self, settings: Settings) -> None:
        from parsefleet.workers.app import child_budget_mb

        self.settings = settings
        self._redis_url = settings.redis_url or ""
        self._budget_mb = child_budget_mb(settings)
        self._limits = BatchLimits.of(settings)  # checked before a payload is expanded
        self._store = Store(settings.database_url or "")
        self._attempts = Attempts(self._redis_url)
        # Step 2 telemetry (flag telemetry.v2.parser_cli): which batches get per-batch figures.
        self._flag = FlagCache(self._redis_url, settings.flag_cache_ttl_s)
        self._emitter = Emitter(settings)
        self._work = WorkCounter(self._redis_url, settings.host_class)  # batches, bytes and seconds for the heartbeat

    def deliver(self, task: Task[Any, Any], payload: bytes | None, enqueued_at_s: float) -> dict[str, int]:
        """One delivery of the batch ``task.request.id``; one still running at ``STUCK_SHARE`` of the
        hard time limit dumps every thread's stack to the worker's stderr."""
        with stacks_if_stuck(self.settings.batch_time_limit_s * STUCK_SHARE):
            return self._delivered(task, payload, enqueued_at_s)

    def _delivered(self, task: Task[Any, Any], payload: bytes | None, enqueued_at_s: float) -> dict[str, int]:
        task_id = str(task.request.id)
        start = self._attempts.begin(task_id)
        payload = start.kept_payload if payload is None else payload
        if payload is None:
            return self._not_kept(task_id, reached=start.reached)
        try:
            result = self._attempt(task, payload, enqueued_at_s, start.count)
        except Retry:
            self._attempts.give_back(task_id)
            raise
        except Exception as exc:
            log.exception("task %s: unexpected error on attempt %d; requeued", task_id, start.count)
            raise Reject(str(exc), requeue=True) from exc
        self._attempts.finish(task_id)
        return result

    def _not_kept(self, task_id: str, *, reached: bool) -> dict[str, int]:
        """A message whose batch the outbox does not hold: finished by an earlier delivery (a resend
        that was not needed), or unreadable while Redis is unreachable (then requeued)."""
        if not reached:
            log.warning("task %s: Redis unreachable, its batch cannot be read; requeued", task_id)
            raise Reject("batch unreadable: Redis unreachable", requeue=True)
        log.info("task %s: finished before (no longer in the outbox); nothing to do", task_id)
        self._attempts.finish(task_id)
        return dict(_NOTHING)

    def _attempt(self, task: Task[Any, Any], payload: bytes, enqueued_at_s: float, attempt: int) -> dict[str, int]:
        started_s = time.time()
        task_id = str(task.request.id)
        if attempt >= 2 * self.settings.poison_deliveries:
            return self._dead(task_id, f"its worker died {attempt - 1} times, even once split; not retried", payload)
        try:
            batch = decode_batch(payload, self._limits)
        except BatchFormatError as exc:
            return self._dead(task_id, str(exc), payload)
        try:
            if attempt >= self.settings.poison_deliveries:
                return self._isolate(task, batch, attempt - 1)
            return self._parse(task, batch, started_s, enqueued_at_s)
        except StoreUnavailable as exc:
            countdown_s = _countdown_s(task)
            log.warning("batch %s: store unavailable, retry in %d s: %s", batch.batch_id, countdown_s, exc)
            raise task.retry(exc=exc, countdown=countdown_s) from exc
        except StoreRejected as exc:
            return self._dead(task_id, str(exc), payload)
        except UnknownRun as exc:
            return self._unknown_run(task, batch, exc, payload)

    def _unknown_run(self, task: Task[Any, Any], batch: Batch, exc: UnknownRun, payload: bytes) -> dict[str, int]:
        """Requeue a batch whose run the database does not know, until ``unknown_run_wait_s`` has
        passed since its first refusal; then dead-letter it (plumbing/unknown_runs.py)."""
        worker, database = str(task.request.hostname), shown_url(self.settings.database_url or "")
        with translated(self._redis_url):
            refusal = unknown_runs.record(
                redis_client(self._redis_url),
                batch.batch_id,
                exc.run_id,
                worker=worker,
                database=database,
                now_s=time.time(),
            )
        waited_s = refusal.last_s - refusal.first_s
        if waited_s >= self.settings.unknown_run_wait_s:
            reason = (
                f"{exc}: refused {refusal.count} times over {waited_s:.0f} s (PARSEFLEET_UNKNOWN_RUN_WAIT_S);"
                " is this worker pointed at its producer's database?"
            )
            return self._dead(str(task.request.id), reason, payload)
        countdown_s = _countdown_s(task)
        log.warning(
            "batch %s: %s (is this worker pointed at its producer's database?); requeued in %d s, refusal %d,"
            " dead-lettered %.0f s after the first",
            batch.batch_id,
            exc,
            countdown_s,
            refusal.count,
            self.settings.unknown_run_wait_s,
        )
        raise task.retry(exc=exc, countdown=countdown_s) from exc

    def _parse(self, task: Task[Any, Any], batch: Batch, started_s: float, enqueued_at_s: float) -> dict[str, int]:
        settings = self.settings
        reparsed = settings.reparsed_languages
        with self._store.rows(batch) as rows:  # each file's rows on to COPY as soon as it is outlined
            outcome = outline_batch(
                batch, settings.parse_timeout_s, self._budget_mb, settings.max_file_symbols, rows, reparsed=reparsed
            )
            timing = BatchTiming(str(task.request.hostname), max(0.0, (started_s - enqueued_at_s) * 1000), now_utc())
            written = self._commit(outcome, timing, rows)
        self._work.record(
            timing.worker, batch.language, batch.size_bytes, outcome.duration_ms / 1000, time.time() - started_s
        )
        if not written and self._store.split_into(batch.batch_id):
            self._send_parts(task, batch)  # an earlier delivery split it and may have died before sending them
        log.info(
            "batch %s: %s %d files %.1f ms%s%s",
            batch.batch_id,
            batch.language,
            len(batch.files),
            outcome.duration_ms,
            f", {outcome.reparsed} from their previous version's tree" if outcome.reparsed else "",
            "" if written else " (already stored)",
        )
        return {"files": len(batch.files), "written": int(written)}

    def _isolate(self, task: Task[Any, Any], batch: Batch, deaths: int) -> dict[str, int]:
        """The batch's worker died ``deaths`` times: split it in halves, or record its one file as crash."""
        worker = str(task.request.hostname)
        if len(batch.files) < 2:
            written = self._commit(crash_outcome(batch, deaths), BatchTiming(worker, None, now_utc()))
            paths = ", ".join(shown(item.ref.path) for item in batch.files)
            log.error("batch %s: %s killed its worker %d times; recorded as %s", batch.batch_id, paths, deaths, CRASH)
            return {"files": len(batch.files), "written": int(written)}
        if self._store.split(batch, halves(batch), worker):
            self._send_parts(task, batch)
            log.warning("batch %s: its worker died %d times; split in two", batch.batch_id, deaths)
        return dict(_NOTHING)

    def _send_parts(self, task: Task[Any, Any], batch: Batch) -> None:
        """Send the halves of a split batch through the outbox; their task ids are their batch ids, so
        resends share a count."""
        with translated(self._redis_url):
            outbox = Outbox(redis_client(self._redis_url))
            for part in halves(batch):
                kept = Kept(part.batch_id, queue_for(part.language), encode_batch(part), part.size_bytes)
                outbox.keep(kept)
                send(task.app, kept)

    def _commit(self, outcome: BatchOutcome, timing: BatchTiming, rows: BatchRows | None = None) -> bool:
        """Commit ``outcome`` within the child's memory budget: a child over it before the batch's
        first statement or before its COMMIT rolls the batch back and records its outlined files as
        failed ``memory`` instead (then Celery recycles the child: workers.app)."""
        step2 = self._flag.current().samples(outcome.batch.batch_id)
        budget = ParseBudget(self.settings.parse_timeout_s, self._budget_mb)
        try:
            written = self._store.write(outcome, timing, step2=step2, rows=rows, before_commit=budget.check_rss)
        except ParseCancelled as exc:
            log.warning(
                "batch %s: over its memory budget at its commit (%s); its files recorded failed",
                outcome.batch.batch_id,
                exc,
            )
            outcome = outcome.failed(exc.kind, str(exc))
            written = self._store.write(outcome, timing, step2=step2)
        if written and step2:
            self._emitter.emit(figures_of(outcome, timing))
        return written

    def _dead(self, task_id: str, reason: str, payload: bytes) -> dict[str, int]:
        log.error("task %s: %s; kept in the dead-letter list", task_id, reason)
        with translated(self._redis_url):
            dead_letter.push(redis_client(self._redis_url), reason, payload)
        return dict(_NOTHING)


def _countdown_s(task: Task[Any, Any]) -> int:
    """Seconds before the next try of a retried batch: doubling from 1 s, at most a minute."""
    return int(min(_RETRY_MAX_S, 2 ** min(task.request.retries, 6)))


def figures_of(outcome: BatchOutcome, timing: BatchTiming) -> BatchFigures:
    """Step 2's figures of a committed batch."""
    failures = [item.failure_kind for item in outcome.files if item.failure_kind is not None]
    batch, duration_ms = outcome.batch, outcome.duration_ms
    return BatchFigures(batch.batch_id, batch.language, duration_ms, failures, timing.worker, timing.finished_at)
