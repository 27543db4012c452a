"""Per-command telemetry: every ``parsefleet`` command's duration and exit code, in ``cli_runs``
and as ``cli_cmd_duration_ms``; for CI-driven runs, ``cicd_success_ratio`` over the last 24 h.

Recording never changes a command's outcome: when the database cannot be reached the figures
are dropped with a debug log line (statsd still gets the timer).
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.database import session, sql
from common.errors import ParsefleetError
from common.metrics import Metrics
from common.names import METRIC_CICD_SUCCESS_RATIO, METRIC_CLI_CMD_DURATION_MS
from common.settings import Settings
from parsefleet.services import Services

__all__ = ["record_cli_run"]

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent


def record_cli_run(settings: Settings, command: str, duration_ms: float, exit_code: int, *, ci: bool) -> None:
    """Store and send one command's figures."""
    metrics = Metrics(settings)
    tags = {"command": command, "ci": str(ci).lower(), "exit_code": str(exit_code)}
    metrics.timing_ms(METRIC_CLI_CMD_DURATION_MS, duration_ms, tags)
    embedded_data = settings.data_dir / "postgres" / "PG_VERSION"
    if settings.database_url is None and not embedded_data.exists():
        return  # never start an embedded database only to record a command that did not need one
    try:
        with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
            params = {"command": command, "duration_ms": duration_ms, "exit_code": exit_code, "ci": ci, "run_id": None}
            conn.execute(sql(_HERE, "cli_run_insert"), params)
            ratio = conn.execute(sql(_HERE, "cicd_success_ratio")).fetchone() if ci else None
    except ParsefleetError as exc:
        log.debug("cli run of %s not recorded: %s", command, exc)
        return
    if ratio is not None and ratio[0] is not None:
        metrics.gauge(METRIC_CICD_SUCCESS_RATIO, float(str(ratio[0])), {"command": command})
