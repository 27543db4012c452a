"""The Celery app of the parse workers, built from the settings it is given.

``build_app(settings)`` makes a worker's app: its queues and caps, the parse task, the outbox
sweep, the heartbeat. ``parsefleet worker`` and the local workers of ``parsefleet run`` build one from their
settings (``python -m parsefleet.workers``); plain ``celery -A parsefleet.workers.app worker``
works too: reading this module's ``app`` builds one from the ``PARSEFLEET_*`` environment at that
moment, not at import.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import warnings
from typing import Any

from celery import Celery, current_app
from celery.signals import task_postrun, worker_init, worker_process_init
from kombu import Queue

from parsefleet.contract.errors import ConfigError
from parsefleet.contract.names import PARENT_PID_ENV, QUEUES
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import celery_config
from parsefleet.workers.heartbeat import FleetBeat
from parsefleet.workers.languages import load_adapters
from parsefleet.workers.limits import CpuGovernor, child_cpu_share
from parsefleet.workers.sweeper import OutboxSweep

__all__ = ["MAIN_PROCESS_BUDGET_MB", "RECYCLE_SHARE", "WorkerApp", "build_app", "child_budget_mb", "run_worker"]

# Resident memory the worker's main process keeps for itself; the rest is shared by the children.
MAIN_PROCESS_BUDGET_MB = 96
# A child is recycled at this share of its budget: the rest is headroom for the next file's parse
# (an unwatched parse, under workers.limits.UNWATCHED_PARSE_MAX_BYTES, peaks at about 28 MB).
RECYCLE_SHARE = 0.75
_PR_SET_PDEATHSIG = 1

# Celery warns on each broker connection loss that it may one day cancel running late-ack tasks
# by default; parsefleet chooses not to, deliberately (parsefleet.plumbing.broker.celery_config).
warnings.filterwarnings("ignore", message=r"\s*In Celery 5\.1 we introduced an optional breaking change")


def child_budget_mb(config: Settings) -> float:
    """Memory each pool child may use so that the worker as a whole stays under its cap."""
    return (config.max_memory_mb - MAIN_PROCESS_BUDGET_MB) / config.concurrency


class WorkerApp(Celery):
    """A Celery app that keeps the settings it was built from (the task and the sweep read them)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("parsefleet", set_as_current=True)
        self.settings = settings


def build_app(settings: Settings) -> WorkerApp:
    """The app of a worker with ``settings``; ConfigError when a service URL is missing."""
    if settings.redis_url is None or settings.database_url is None:
        raise ConfigError(
            "a worker needs PARSEFLEET_REDIS_URL and PARSEFLEET_DATABASE_URL (or run `parsefleet worker`)"
        )
    app = WorkerApp(settings)
    app.conf.update(celery_config(settings, settings.redis_url))
    app.conf.update(
        task_queues=[Queue(name, routing_key=name) for name in QUEUES.values()],
        worker_concurrency=settings.concurrency,
        # Recycle a child once it has used RECYCLE_SHARE of its budget (checked after each task:
        # celery #5645), so the next parse has headroom; the parse itself is watched while it runs
        # by workers.limits.ParseBudget.
        worker_max_memory_per_child=int(child_budget_mb(settings) * RECYCLE_SHARE * 1024),
        # A batch past its hard limit has its pool child killed; requeue it (rather than acknowledge
        # a batch whose files have no result) and let workers.attempts count it like a crash.
        task_time_limit=settings.batch_time_limit_s,
        task_acks_on_timeout=False,
    )
    from parsefleet.workers.tasks import register

    register(app)
    app.steps["worker"].add(OutboxSweep)  # batches lost between BRPOP and kombu's record (plumbing/outbox.py)
    app.steps["worker"].add(FleetBeat)  # heartbeat, pause, watchdog, fleet samples (workers/heartbeat.py)
    return app


def run_worker(app: WorkerApp, argv: list[str]) -> int:
    """Run ``celery worker`` with ``argv`` in this process; return its exit code (70 when its
    watchdog ended it: parsefleet.workers.heartbeat), which ``worker_main`` would drop."""
    from celery.bin.celery import celery  # what app.start runs, keeping the code it drops

    celery.params[0].default = app
    try:
        code = celery.main(args=["worker", *argv], standalone_mode=False)
    finally:
        celery.params[0].default = None
    return code if isinstance(code, int) else 0


def configured_app(environ: dict[str, str] | None = None) -> WorkerApp:
    """The app of ``Settings.from_env()``. A configuration error ends the process with one line and
    exit 2, as the ``parsefleet`` CLI does, where Celery would print a traceback."""
    try:
        return build_app(Settings.from_env(environ))
    except ConfigError as exc:
        print(f"parsefleet worker: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def __getattr__(name: str) -> WorkerApp:
    """``celery -A parsefleet.workers.app`` reads ``app``: build it from the environment, once."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = configured_app()
    globals()["app"] = app
    return app


def _settings() -> Settings | None:
    """The settings of the current app (in a pool child, the app its worker was built with)."""
    settings = getattr(current_app, "settings", None)
    return settings if isinstance(settings, Settings) else None


def _exit_with_launcher() -> None:
    """A worker started by ``parsefleet run`` gets SIGTERM (warm shutdown) when its launcher dies."""
    launcher = os.environ.get(PARENT_PID_ENV)
    if launcher is None:
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(launcher):  # the launcher died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


class _PoolChild:
    """What one pool child keeps for itself: its CPU governor (None when not needed)."""

    governor: CpuGovernor | None = None


_child = _PoolChild()


@worker_init.connect
def _bind_to_launcher(**_kwargs: Any) -> None:
    """In the worker's main process only (pool children are the main process's business)."""
    _exit_with_launcher()


@worker_process_init.connect
def _warm_start(**_kwargs: Any) -> None:
    """Load grammars and queries, and set up the CPU governor, in every pool child."""
    load_adapters()
    settings = _settings()
    if settings is None:
        return
    share = child_cpu_share(settings.cpu_limit_pct, len(os.sched_getaffinity(0)), settings.concurrency)
    if share is not None:  # the parent (Celery's main process) is charged to its children in equal parts
        _child.governor = CpuGovernor(share, parent_pid=os.getppid(), siblings=settings.concurrency)


@task_postrun.connect
def _hold_cpu_share(**_kwargs: Any) -> None:
    """After each batch, pause the child if it ran above its CPU share."""
    if _child.governor is not None:
        _child.governor.settle()
