"""Per-command telemetry: every ``parsefleet`` command's duration and exit code in ``cli_runs``
(Step 1, always); for the share the flag ``telemetry.v2.parser_cli`` samples (Step 2), the
``cli_cmd_duration_ms`` timer and, for CI-driven runs, ``cicd_success_ratio`` over the last 24 h.

Each invocation gets an id; it is sampled when its hash falls under the flag (parsefleet.telemetry.flag). The
flag is read from the configured Redis, or the embedded one when it is running; without Redis
the command counts as Step 1. Recording never changes a command's outcome: when the database
cannot be reached the row is dropped with a debug log line, and the Step 2 figures still go out
and are counted, so `parsefleet telemetry reconcile` shows the gap.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis

from parsefleet.contract.errors import ParsefleetError
from parsefleet.contract.names import METRIC_CICD_SUCCESS_RATIO, METRIC_CLI_CMD_DURATION_MS
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.database import session, sql
from parsefleet.plumbing.metrics import Metrics
from parsefleet.services.endpoints import Services
from parsefleet.telemetry.emission import EmissionLedger
from parsefleet.telemetry.flag import FlagState, TelemetryFlag

__all__ = ["cli_redis_url", "record_cli_run"]

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent


def record_cli_run(
    settings: Settings, command: str, duration_ms: float, exit_code: int, *, ci: bool, invocation_id: str | None = None
) -> None:
    """Store one command's row; send and count its Step 2 figures when the flag samples it."""
    at = datetime.now(UTC)
    redis_url = cli_redis_url(settings)
    step2 = redis_url is not None and _flag(redis_url).samples(invocation_id or str(uuid.uuid4()))
    run = {"time": at, "command": command, "duration_ms": duration_ms, "exit_code": exit_code, "ci": ci}
    ratio = _store(settings, {**run, "run_id": None, "step2": step2}, with_ratio=ci and step2)
    if not step2 or redis_url is None:
        return
    metrics = Metrics(settings)
    tags = {"command": command, "ci": str(ci).lower(), "exit_code": str(exit_code)}
    metrics.timing_ms(METRIC_CLI_CMD_DURATION_MS, duration_ms, tags)
    if ratio is not None:
        metrics.gauge(METRIC_CICD_SUCCESS_RATIO, ratio, {"command": command})
    try:
        EmissionLedger(redis_url).add({METRIC_CLI_CMD_DURATION_MS: 1}, at)
    except ParsefleetError as exc:
        log.debug("cli run of %s: emitted figure not counted: %s", command, exc)


def cli_redis_url(settings: Settings) -> str | None:
    """The Redis that holds the flag: the configured one, or the embedded one if it is running."""
    if settings.redis_url is not None:
        return settings.redis_url
    socket = settings.data_dir / "redis" / "redis.sock"
    return f"unix://{socket}" if _exists(socket) else None


def _flag(redis_url: str) -> FlagState:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return TelemetryFlag(client, redis_url).read()
    except ParsefleetError as exc:
        log.debug("telemetry flag unreadable, Step 1 only: %s", exc)
        return FlagState(0)
    finally:
        client.close()


def _store(settings: Settings, params: dict[str, object], *, with_ratio: bool) -> float | None:
    """Insert the cli_runs row; return cicd_success_ratio when asked (None without data or database)."""
    embedded_data = settings.data_dir / "postgres" / "PG_VERSION"
    if settings.database_url is None and not _exists(embedded_data):
        return None  # never start an embedded database only to record a command that did not need one
    try:
        with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
            conn.execute(sql(_HERE, "cli_run_insert"), params)
            row = conn.execute(sql(_HERE, "cicd_success_ratio")).fetchone() if with_ratio else None
    except ParsefleetError as exc:
        log.debug("cli run of %s not recorded: %s", params["command"], exc)
        return None
    return None if row is None or row[0] is None else float(str(row[0]))


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; False when it cannot be looked at (a data directory of another user)."""
    try:
        return path.exists()
    except OSError:
        return False
