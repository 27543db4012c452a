"""The heartbeat: every worker's main process says who it is and what it does, every ``heartbeat_s``.

A thread of the worker's main process (a Celery bootstep, like the outbox sweep, so plain
``celery -A parsefleet.workers.app worker`` has it too). Each beat it

- follows the fleet's pause flag: paused, it cancels its queue consumers (it finishes what it holds
  and takes nothing more); resumed, it consumes again (``Consumer.cancel_task_queue`` /
  ``add_task_queue``, run on the worker's event loop);
- writes its heartbeat (parsefleet.contract.heartbeat) to Redis with an expiry: host, pid,
  concurrency, RSS and CPU of the main process and its pool children, batches done and its
  measured rates per language (counted by the pool children: ``WorkCounter``);
- watches itself: holding no batch for ``worker_stall_s`` while batches wait in its queues, it is
  stalled (a consumer lost after a Redis reconnect: celery #8030, #9054, #10205), and with
  ``worker_stall_exit`` it ends with exit code 70 so that its supervisor starts a fresh one;
- takes, for one worker of the fleet per period, the turn to sample the fleet: the advised worker
  count (parsefleet.contract.scaling) to Redis and statsd, and a row per language in
  ``fleet_samples``.

SIGTERM (warm shutdown) makes it beat at once as ``draining``; its last beat says ``stopped``.
Redis unreachable: that beat is skipped, the next one tries again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import kombu.exceptions
import redis
from celery import bootsteps
from celery.signals import task_received, worker_init, worker_shutdown, worker_shutting_down
from celery.worker import state as worker_state

from parsefleet.contract.errors import ParsefleetError
from parsefleet.contract.heartbeat import Heartbeat
from parsefleet.contract.names import (
    METRIC_ADVISED_WORKERS,
    METRIC_QUEUED_BYTES,
    METRIC_WORKERS_ALIVE,
    METRIC_WORKERS_STALLED,
    QUEUES,
)
from parsefleet.contract.scaling import WorkerSize, advise, pooled_rates
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import database, fleet
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.metrics import Metrics
from parsefleet.plumbing.parse_rates import record_rate
from parsefleet.workers.fork_gate import gate
from parsefleet.workers.limits import child_cpu_share

__all__ = ["EXIT_STALLED", "FleetBeat", "WorkCounter", "main_pid", "tree_usage"]

log = logging.getLogger(__name__)

# Exit code of a worker its watchdog ended (EX_SOFTWARE): the supervisor restarts it.
EXIT_STALLED = 70
_STOP_JOIN_S = 5.0
_CPU_WINDOW_S = 60.0
# A stalled worker asked to stop warmly is ended hard if still there after this long.
_HARD_EXIT_AFTER_S = 30.0
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class _MainProcess:
    """What the worker's main process notes for its heartbeat thread (signals run in it)."""

    pid: int | None = None
    last_taken_at: float | None = None
    wake: threading.Event = threading.Event()
    draining: bool = False
    beat: FleetBeat | None = None
    exit_code: int = 0  # EXIT_STALLED once the watchdog ended the worker


_main = _MainProcess()


def main_pid() -> int:
    """The worker's main process (noted before the pool forks; a pool child's parent otherwise)."""
    return _main.pid or os.getppid()


@worker_init.connect
def _note_main(**_kwargs: Any) -> None:
    _main.pid = os.getpid()


@task_received.connect
def _note_taken(**_kwargs: Any) -> None:
    _main.last_taken_at = time.time()


@worker_shutting_down.connect
def _note_draining(**_kwargs: Any) -> None:
    _main.draining = True
    _main.wake.set()


@worker_shutdown.connect
def _last_beat(**_kwargs: Any) -> None:
    """Sent once the pool has finished what it held: the worker's last beat."""
    if _main.beat is not None:
        _main.beat.finish()


def tree_usage(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of ``pid`` and its living descendants; exited children count
    through their parent's cutime and cstime."""
    pending, rss, cpu = [pid], 0, 0.0
    while pending:
        current = pending.pop()
        try:
            rss += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * _PAGE_BYTES
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += sum(int(value) for value in stat[11:15]) / _TICKS_PER_S
        except (OSError, IndexError, ValueError):
            continue
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return rss, cpu


class WorkCounter:
    """In a pool child: counts each batch finished under its worker's id (lazy connection)."""

    def __init__(self, redis_url: str, host_class: str = "default") -> None:
        self.redis_url = redis_url
        self.host_class = host_class
        self._client: redis.Redis | None = None

    def record(self, node: str, language: str, source_bytes: int, parse_s: float, batch_s: float) -> None:
        """Count one batch, and add it to its language's parse-rate estimate (the producer sizes
        batches from it); Redis unreachable, the count is lost (the heartbeat is a view, not a ledger)."""
        try:
            with translated(self.redis_url):
                self._client = self._client or redis_client(self.redis_url)
                worker_id = f"{node}:{main_pid()}"
                fleet.record_work(self._client, worker_id, language, source_bytes, parse_s=parse_s, batch_s=batch_s)
                record_rate(self._client, language, self.host_class, source_bytes, parse_s)
        except ParsefleetError as exc:
            self._client = None
            log.warning("batch not counted in the heartbeat: %s", exc)


@dataclass
class _Watch:
    """The beat thread's memory between beats."""

    started_at: float
    consuming: bool = True
    consuming_since: float = 0.0
    waiting_since: float | None = None
    cpu: deque[tuple[float, float]] = field(default_factory=deque)
    exiting: bool = False


class FleetBeat(bootsteps.StartStopStep):
    """The heartbeat thread of one worker's main process."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker: Any = None
        self._client: redis.Redis | None = None
        self._conn: Any = None
        self._queues: tuple[str, ...] = ()
        self._last: Heartbeat | None = None

    def start(self, parent: Any) -> None:
        """Start beating (``parent`` is Celery's WorkController)."""
        config = getattr(parent.app, "settings", None)
        if not isinstance(config, Settings):
            log.error("heartbeat not started: the app was not built by parsefleet.workers.app.build_app")
            return
        self._worker = parent
        self._queues = tuple(parent.app.amqp.queues.consume_from or QUEUES.values())
        _main.pid = os.getpid()
        _main.beat = self
        self._thread = threading.Thread(target=self._run, args=(config,), name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self, parent: Any) -> None:
        """Warm shutdown began: beat at once as draining, and go on beating while the pool finishes
        what it holds (the last beat is ``finish``, on Celery's worker_shutdown signal)."""
        _main.draining = True
        _main.wake.set()

    def finish(self) -> None:
        """Stop beating; the last beat says the worker stopped, and how."""
        self._stop.set()
        _main.wake.set()
        if self._thread is not None:
            self._thread.join(_STOP_JOIN_S)
        if self._last is not None and self._client is not None:
            last = replace(self._last, state="stopped", beat_at=time.time(), active=0, exit_code=_main.exit_code)
            try:
                with translated(self._settings_url()):
                    fleet.leave(self._client, last)
            except ParsefleetError as exc:
                log.warning("last heartbeat not written: %s", exc)

    def _settings_url(self) -> str:
        config = getattr(self._worker.app, "settings", None) if self._worker is not None else None
        return (config.redis_url or "") if isinstance(config, Settings) else ""

    def _run(self, config: Settings) -> None:
        watch = _Watch(started_at=time.time(), consuming_since=time.time())
        with gate.turn():  # each turn, between two forks of the pool (workers.fork_gate)
            metrics = Metrics(config)
        while not self._stop.is_set():
            with gate.turn():
                try:
                    with translated(config.redis_url or ""):
                        self._client = self._client or redis_client(config.redis_url or "")
                        self._beat(config, watch, metrics)
                except (ParsefleetError, kombu.exceptions.OperationalError) as exc:
                    self._client = None
                    log.warning("heartbeat skipped: %s", exc)
            _main.wake.wait(config.heartbeat_s)
            _main.wake.clear()

    def _beat(self, config: Settings, watch: _Watch, metrics: Metrics) -> None:
        assert self._client is not None
        now = time.time()
        paused = fleet.paused(self._client) is not None
        self._follow_pause(paused, watch, now)
        depth = sum(int(self._client.llen(queue)) for queue in self._queues)
        watch.waiting_since = (watch.waiting_since or now) if depth else None
        beat = self._heartbeat(config, watch, now, paused=paused)
        fleet.write_beat(self._client, beat, config.heartbeat_s)
        self._last = beat
        if beat.state == "stalled":
            self._stalled(config, beat, watch, depth)
        if fleet.claim_sample(self._client, beat.worker_id, config.heartbeat_s * 0.9):
            self._sample(config, metrics, now)

    def _heartbeat(self, config: Settings, watch: _Watch, now: float, *, paused: bool) -> Heartbeat:
        assert self._client is not None
        pid = os.getpid()
        rss, cpu_s = tree_usage(pid)
        watch.cpu.append((now, cpu_s))
        while len(watch.cpu) > 1 and now - watch.cpu[0][0] > _CPU_WINDOW_S:
            watch.cpu.popleft()
        first_at, first_cpu = watch.cpu[0]
        cpu_share = (cpu_s - first_cpu) / (now - first_at) if now > first_at else 0.0
        node = str(self._worker.hostname)
        languages, last_batch_at = fleet.work_of(self._client, f"{node}:{pid}")
        active = len(worker_state.active_requests)
        share = child_cpu_share(config.cpu_limit_pct, len(os.sched_getaffinity(0)), config.concurrency)
        state, stalled_since = self._state(config, watch, now, paused=paused, active=active)
        return Heartbeat(
            worker_id=f"{node}:{pid}",
            node=node,
            host=socket.gethostname(),
            pid=pid,
            state=state,
            started_at=watch.started_at,
            beat_at=now,
            concurrency=config.concurrency,
            slot_share=1.0 if share is None else share,
            cpu_limit_pct=config.cpu_limit_pct,
            max_memory_mb=config.max_memory_mb,
            rss_bytes=rss,
            cpu_share_1m=round(cpu_share, 4),
            active=active,
            batches_done=sum(work.batches for work in languages.values()),
            last_batch_at=last_batch_at,
            last_taken_at=_main.last_taken_at,
            stalled_since=stalled_since,
            queues=self._queues,
            languages=languages,
            period_s=config.heartbeat_s,
        )

    def _state(
        self, config: Settings, watch: _Watch, now: float, *, paused: bool, active: int
    ) -> tuple[str, float | None]:
        """The worker's state, and since when it is stalled (None unless it is)."""
        if _main.draining or self._stop.is_set():
            return "draining", None
        if paused:
            return "paused", None
        if active or watch.waiting_since is None:
            return "running", None
        idle_from = max(watch.waiting_since, watch.consuming_since, _main.last_taken_at or watch.started_at)
        stalled_at = idle_from + config.worker_stall_s
        return ("stalled", stalled_at) if now >= stalled_at else ("running", None)

    def _follow_pause(self, paused: bool, watch: _Watch, now: float) -> None:
        """Cancel (or restore) this worker's queue consumers when the pause flag changed."""
        if paused == (not watch.consuming):
            return
        consumer = self._worker.consumer
        queues = self._queues

        def apply() -> None:
            if getattr(consumer, "task_consumer", None) is None:
                return
            for queue in queues:
                (consumer.cancel_task_queue if paused else consumer.add_task_queue)(queue)

        hub = getattr(self._worker, "hub", None)
        if hub is not None:
            hub.call_soon(apply)  # on the event loop's thread, which owns the consumer
        else:
            apply()
        watch.consuming, watch.consuming_since = not paused, now
        log.warning(
            "fleet %s: %s %s",
            "paused" if paused else "resumed",
            "consuming no more from" if paused else "consuming again from",
            queues,
        )

    def _stalled(self, config: Settings, beat: Heartbeat, watch: _Watch, depth: int) -> None:
        log.error(
            "worker %s stalled: no batch taken for %.0f s while %d wait in its queues%s",
            beat.worker_id,
            config.worker_stall_s,
            depth,
            "; exiting with code 70 for its supervisor to restart it" if config.worker_stall_exit else "",
        )
        if not config.worker_stall_exit or watch.exiting:
            return
        if beat.stalled_since is not None and beat.beat_at - beat.stalled_since < config.heartbeat_s:
            return  # shown stalled for one heartbeat first, so that status and the alerts see it
        watch.exiting = True
        _main.exit_code = EXIT_STALLED
        # The event loop's next turn starts a warm shutdown with this exit code (state.maybe_shutdown).
        vars(worker_state)["should_stop"] = EXIT_STALLED
        timer = threading.Timer(_HARD_EXIT_AFTER_S, os._exit, args=(EXIT_STALLED,))
        timer.daemon = True
        timer.start()

    def _sample(self, config: Settings, metrics: Metrics, now: float) -> None:
        """This period's turn: the advice to Redis and statsd, the fleet's row to PostgreSQL."""
        assert self._client is not None
        queues = fleet.backlog(self._client)
        fleet.forget_gone(self._client, now, config.worker_gone_keep_s)
        alive, _gone = fleet.beats(self._client, now, config.worker_gone_keep_s)
        stalled = sum(1 for beat in alive if beat.state == "stalled")
        own = WorkerSize(config.concurrency, self._last.slot_share if self._last else 1.0)
        size = WorkerSize.of(alive, own)
        slots = sum(WorkerSize(beat.concurrency, beat.slot_share).slots for beat in alive)
        backlog_bytes = {lang: queue.outstanding_bytes for lang, queue in queues.items()}
        advice = advise(
            backlog_bytes, pooled_rates(alive), size, config.drain_within_s, alive_slots=slots, alive=len(alive)
        )
        fleet.publish_advice(self._client, advice.workers, config.heartbeat_s)
        metrics.gauge(METRIC_ADVISED_WORKERS, advice.workers, {})
        metrics.gauge(METRIC_WORKERS_ALIVE, len(alive), {})
        metrics.gauge(METRIC_WORKERS_STALLED, stalled, {})
        for lang, queue in queues.items():
            metrics.gauge(METRIC_QUEUED_BYTES, queue.waiting_bytes, {"language": lang})
        paused = fleet.paused(self._client) is not None
        self._store(config, fleet.Sample(len(alive), stalled, paused, advice.workers, queues), now)

    def _store(self, config: Settings, sample: fleet.Sample, now: float) -> None:
        url = config.database_url or ""
        try:
            with database.translated(url):
                if self._conn is None or self._conn.closed:
                    self._conn = database.connect(url, autocommit=True)
                fleet.record_sample(self._conn, sample, now)
        except ParsefleetError as exc:
            self._conn = None
            log.warning("fleet sample not stored: %s", exc)
