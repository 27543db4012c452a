"""``parsefleet telemetry reconcile``: no silent drops of Step 2 figures.

Workers and the CLI count every Step 2 figure they emit, per metric and UTC hour, in Redis
(parsefleet.telemetry.emission); this compares those counts with the rows stored for the same hours and
reports every hour and metric where they differ. A gap means figures went out (statsd) without
their row (a database outage while a command was recorded, rows deleted by hand), or rows exist
that were never counted (Redis unreachable when they were emitted). Hours older than the
retention (72 h) have lost their rows on purpose: reconcile within it. ``cicd_success_ratio`` is a
gauge computed from ``cli_runs``; it has no rows of its own to reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from parsefleet.contract.names import METRIC_CLI_CMD_DURATION_MS, METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL
from parsefleet.plumbing.database import sql
from parsefleet.telemetry.emission import EmissionLedger, hour_of

__all__ = ["RECONCILED_METRICS", "HourTally", "Reconciliation", "reconcile"]

_HERE = Path(__file__).parent
RECONCILED_METRICS = (METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL, METRIC_CLI_CMD_DURATION_MS)


@dataclass(frozen=True, slots=True)
class HourTally:
    """Emitted and stored figures of one metric in one hour."""

    hour: datetime
    metric: str
    emitted: int
    stored: int

    @property
    def gap(self) -> int:
        """Emitted minus stored: positive when figures were dropped."""
        return self.emitted - self.stored


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Every hour and metric with something emitted or stored in [since, until]."""

    since: datetime
    until: datetime
    tallies: tuple[HourTally, ...]

    @property
    def gaps(self) -> list[HourTally]:
        """The tallies that do not match."""
        return [tally for tally in self.tallies if tally.gap]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "gaps": len(self.gaps),
            "hours": [
                {"hour": t.hour.isoformat(), "metric": t.metric, "emitted": t.emitted, "stored": t.stored, "gap": t.gap}
                for t in self.tallies
            ],
        }

    def render(self) -> str:
        """Text for a terminal."""
        lines = [f"{'hour (UTC)':<17} {'metric':<22} {'emitted':>8} {'stored':>8} {'gap':>6}"]
        for t in self.tallies:
            mark = "  GAP" if t.gap else ""
            lines.append(
                f"{t.hour.strftime('%Y-%m-%dT%H:00'):<17} {t.metric:<22} {t.emitted:>8} {t.stored:>8} {t.gap:>6}{mark}"
            )
        if not self.tallies:
            lines.append("nothing emitted or stored in the window")
        lines.append(f"{len(self.gaps)} gap(s)" if self.gaps else "no gaps: every emitted figure is stored")
        return "\n".join(lines)


def reconcile(
    conn: psycopg.Connection[tuple[object, ...]], ledger: EmissionLedger, since: datetime, until: datetime
) -> Reconciliation:
    """Compare emitted and stored counts per hour over [since, until] (whole hours)."""
    start, end = hour_of(since), hour_of(until) + timedelta(hours=1) - timedelta(microseconds=1)
    stored: dict[tuple[datetime, str], int] = {}
    for hour, metric, count in conn.execute(sql(_HERE, "reconcile_stored"), {"since": start, "until": end}):
        assert isinstance(hour, datetime)
        stored[(hour_of(hour), str(metric))] = int(str(count))
    hours = [start + timedelta(hours=index) for index in range(int((end - start).total_seconds() // 3600) + 1)]
    emitted = {
        (hour, metric): count
        for hour, counts in ledger.read(hours).items()
        for metric, count in counts.items()
        if metric in RECONCILED_METRICS
    }
    keys = sorted(set(stored) | set(emitted))
    tallies = tuple(
        HourTally(hour, metric, emitted.get((hour, metric), 0), stored.get((hour, metric), 0)) for hour, metric in keys
    )
    return Reconciliation(start, end, tallies)
