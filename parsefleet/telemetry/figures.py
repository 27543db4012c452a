"""The two p95 figures the telemetry rollout watches, over a time window, from Step 1 data.

``parser_duration_ms`` is read from ``batch_results.duration_ms`` (every batch) and
``cli_cmd_duration_ms`` from ``cli_runs.duration_ms`` (every recorded command): both are written
whatever the flag ``telemetry.v2.parser_cli`` says, so the baseline before the ramp (0%) and the
figures during and after it measure the same population.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from parsefleet.plumbing.database import sql

__all__ = ["Figures", "measure", "variance_pct"]

_HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class Figures:
    """p95 (None without data) and sample count of batch and CLI command durations in one window."""

    batch_p95_ms: float | None
    batch_samples: int
    cli_p95_ms: float | None
    cli_samples: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)


def measure(conn: psycopg.Connection[tuple[object, ...]], since: datetime, until: datetime) -> Figures:
    """The figures of [since, until]."""
    row = conn.execute(sql(_HERE, "window_figures"), {"since": since, "until": until}).fetchone()
    assert row is not None
    batch_p95, batch_n, cli_p95, cli_n = row
    return Figures(_number(batch_p95), int(str(batch_n)), _number(cli_p95), int(str(cli_n)))


def variance_pct(value: float | None, baseline: float | None) -> float | None:
    """(value - baseline) / baseline in percent; None when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0:
        return None
    return (value - baseline) / baseline * 100


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))
