"""``parsefleet alerts check``: the alert rules of shared/DESIGN.md, computed in SQL.

The same thresholds as infra/prometheus/alerts.yml, read from the database instead of statsd, so
they hold when statsd packets were lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from parsefleet.plumbing.database import sql

__all__ = ["Alert", "check_alerts"]

_HERE = Path(__file__).parent
P95_ALERT_MS = 210.0
FAILURES_ALERT_PER_HOUR = 3
CICD_RATIO_ALERT = 0.85


@dataclass(frozen=True)
class Alert:
    """One rule: its figure (None without data), threshold and whether it fires."""

    name: str
    value: float | None
    threshold: float
    firing: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)


def check_alerts(conn: psycopg.Connection[tuple[object, ...]]) -> list[Alert]:
    """Evaluate the three rules now."""
    row = conn.execute(sql(_HERE, "alerts")).fetchone()
    assert row is not None
    p95, failures, ratio = (None if value is None else float(str(value)) for value in row)
    return [
        Alert("parser_duration_ms p95 (1 h) above", p95, P95_ALERT_MS, p95 is not None and p95 > P95_ALERT_MS),
        Alert(
            "parser_failure_total (1 h) at least",
            failures,
            FAILURES_ALERT_PER_HOUR,
            failures is not None and failures >= FAILURES_ALERT_PER_HOUR,
        ),
        Alert(
            "cicd_success_ratio (24 h) below", ratio, CICD_RATIO_ALERT, ratio is not None and ratio < CICD_RATIO_ALERT
        ),
    ]
