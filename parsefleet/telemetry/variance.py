"""``parsefleet telemetry variance``: the validation report after go-live (or for any window).

Per metric the p95 of the window against the ramp's baseline (parsefleet.telemetry.figures: Step 1 data,
every batch and command), parser failures in the worst hour of the window, and
``cicd_success_ratio`` of the CI-driven run/submit commands. Validation (shared/DESIGN.md) passes
when both variances stay within ±5%, failures stay under 3 in every hour and the ratio is at least
90%. A figure without data is reported as ``no data`` and fails nothing, except batch latency:
without batches there is nothing to validate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from parsefleet.plumbing.database import sql
from parsefleet.telemetry.figures import Figures, measure, variance_pct

__all__ = ["CHECKPOINTS_H", "Check", "VarianceReport", "build_report"]

_HERE = Path(__file__).parent
# the reports of shared/DESIGN.md: hours after go-live
CHECKPOINTS_H = {"1h": 1, "12h": 12, "24h": 24, "48h": 48}
VARIANCE_LIMIT_PCT = 5.0
FAILURES_LIMIT_PER_HOUR = 3
CICD_RATIO_MIN = 0.90


@dataclass(frozen=True, slots=True)
class Check:
    """One validation criterion: its figure, its limit and ``pass``, ``fail`` or ``no data``."""

    name: str
    value: float | None
    limit: str
    status: str


@dataclass(frozen=True, slots=True)
class VarianceReport:
    """The validation report of one window."""

    since: datetime
    until: datetime
    partial: bool  # the window reaches past now: figures so far
    go_live: datetime | None
    baseline: Figures
    window: Figures
    failures_worst_hour: int
    failures_total: int
    cicd_success_ratio: float | None
    ci_runs: int
    checks: tuple[Check, ...]
    note: str = ""

    @property
    def passed(self) -> bool:
        """No criterion fails, and batch latency was measured."""
        return all(check.status != "fail" for check in self.checks) and self.checks[0].status == "pass"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = asdict(self)
        data["passed"] = self.passed
        return data

    def render(self) -> str:
        """Text for a terminal."""
        live = f" (go-live {self.go_live.isoformat(timespec='seconds')})" if self.go_live else ""
        lines = [
            f"window {self.since.isoformat(timespec='seconds')} .. {self.until.isoformat(timespec='seconds')}{live}"
        ]
        if self.partial:
            lines.append("partial: the window has not ended yet; figures so far")
        if self.note:
            lines.append(self.note)
        for check in self.checks:
            value = "-" if check.value is None else f"{check.value:.3g}"
            lines.append(f"{check.status.upper():<8} {check.name}: {value} (limit {check.limit})")
        lines.append("validation " + ("PASSED" if self.passed else "FAILED"))
        return "\n".join(lines)


def build_report(
    conn: psycopg.Connection[tuple[object, ...]],
    since: datetime,
    until: datetime,
    baseline: Figures,
    *,
    now: datetime,
    go_live: datetime | None = None,
    note: str = "",
) -> VarianceReport:
    """Measure [since, min(until, now)] and judge it against ``baseline``."""
    end = min(until, now)
    window = measure(conn, since, end)
    row = conn.execute(sql(_HERE, "validation_window"), {"since": since, "until": end}).fetchone()
    assert row is not None
    worst, total, ratio, ci_runs = row
    cicd = None if ratio is None else float(str(ratio))
    checks = (
        _variance_check("parser_duration_ms p95 variance %", window.batch_p95_ms, baseline.batch_p95_ms),
        _variance_check("cli_cmd_duration_ms p95 variance %", window.cli_p95_ms, baseline.cli_p95_ms),
        Check(
            "parser_failure_total in the worst hour",
            float(str(worst)),
            f"< {FAILURES_LIMIT_PER_HOUR}",
            "pass" if int(str(worst)) < FAILURES_LIMIT_PER_HOUR else "fail",
        ),
        Check(
            "cicd_success_ratio",
            cicd,
            f">= {CICD_RATIO_MIN:g}",
            "no data" if cicd is None else "pass" if cicd >= CICD_RATIO_MIN else "fail",
        ),
    )
    return VarianceReport(
        since=since,
        until=until,
        partial=until > now,
        go_live=go_live,
        baseline=baseline,
        window=window,
        failures_worst_hour=int(str(worst)),
        failures_total=int(str(total)),
        cicd_success_ratio=cicd,
        ci_runs=int(str(ci_runs)),
        checks=checks,
        note=note,
    )


def _variance_check(name: str, value: float | None, baseline: float | None) -> Check:
    variance = variance_pct(value, baseline)
    if variance is None:
        return Check(name, None, f"within ±{VARIANCE_LIMIT_PCT:g}%", "no data")
    status = "pass" if abs(variance) <= VARIANCE_LIMIT_PCT else "fail"
    return Check(name, variance, f"within ±{VARIANCE_LIMIT_PCT:g}%", status)
