"""The rollout's decisions: one ``telemetry_decisions`` row and one log line each.

Actions: ``start``, ``baseline``, ``snapshot``, ``advance`` (the flag moves up a step; the advance
to 100% is the go-live), ``hold``, ``breach``, ``rollback``, ``done``, ``abort`` (the ramp's);
``rollback``, ``revert`` and ``set`` from one-off commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from parsefleet.plumbing.database import session, sql
from parsefleet.telemetry.figures import Figures, variance_pct

__all__ = ["Decision", "DecisionLog", "GoLive", "go_live", "latest_baseline"]

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class Decision:
    """What was decided, the flag before and after, and the figures it was decided on."""

    action: str
    pct_from: int | None = None
    pct_to: int | None = None
    figures: Figures | None = None
    baseline: Figures | None = None
    detail: str = ""

    def render(self) -> str:
        """One line for a terminal or a log."""
        parts = [f"{self.action:<9}"]
        if self.pct_to is not None:
            moved = self.pct_from is not None and self.pct_from != self.pct_to
            parts.append(f"flag {self.pct_from}% -> {self.pct_to}%" if moved else f"flag {self.pct_to}%")
        if self.figures is not None:
            base = self.baseline or Figures(None, 0, None, 0)
            parts.append(_figure_text("batch", self.figures.batch_p95_ms, base.batch_p95_ms))
            parts.append(_figure_text("cli", self.figures.cli_p95_ms, base.cli_p95_ms))
        if self.detail:
            parts.append(self.detail)
        return " ".join(part for part in parts if part)


def _figure_text(name: str, value: float | None, baseline: float | None) -> str:
    if value is None:
        return f"{name} p95 -"
    variance = variance_pct(value, baseline)
    return f"{name} p95 {value:.1f} ms" + ("" if variance is None else f" ({variance:+.1f}%)")


class DecisionLog:
    """Stores decisions in ``telemetry_decisions`` and logs them (and echoes them, when asked)."""

    def __init__(self, database_url: str, ramp_id: str | None = None, echo: Callable[[str], None] | None = None):
        self.database_url = database_url
        self.ramp_id = ramp_id
        self._echo = echo
        self._last: datetime | None = None

    def record(self, decision: Decision, at: datetime) -> None:
        """Store one decision taken at ``at`` (a microsecond after the previous one at the least, so that
        decisions taken at one tick of the clock keep their order in the table)."""
        if self._last is not None and at <= self._last:
            at = self._last + timedelta(microseconds=1)
        self._last = at
        figures, baseline = decision.figures, decision.baseline
        params = {
            "time": at,
            "ramp_id": self.ramp_id,
            "action": decision.action,
            "pct_from": decision.pct_from,
            "pct_to": decision.pct_to,
            "batch_p95_ms": figures.batch_p95_ms if figures else None,
            "batch_baseline_p95_ms": baseline.batch_p95_ms if baseline else None,
            "batch_samples": figures.batch_samples if figures else None,
            "cli_p95_ms": figures.cli_p95_ms if figures else None,
            "cli_baseline_p95_ms": baseline.cli_p95_ms if baseline else None,
            "cli_samples": figures.cli_samples if figures else None,
            "detail": decision.detail,
        }
        with session(self.database_url) as conn:
            conn.execute(sql(_HERE, "decision_insert"), params)
        line = decision.render()
        log.info("telemetry %s", line)
        if self._echo is not None:
            self._echo(f"{at.isoformat(timespec='seconds')} {line}")


@dataclass(frozen=True, slots=True)
class GoLive:
    """When the flag reached 100% (the latest ramp's advance), its baseline, and whether it was undone."""

    at: datetime
    baseline: Figures | None
    undone_at: datetime | None


def go_live(database_url: str) -> GoLive | None:
    """The latest go-live, or None when no ramp reached 100%."""
    with session(database_url) as conn:
        row = conn.execute(sql(_HERE, "go_live")).fetchone()
    if row is None:
        return None
    at, batch_p95, batch_n, cli_p95, cli_n, undone_at = row
    assert isinstance(at, datetime)
    baseline = None if batch_n is None else _figures((batch_p95, batch_n, cli_p95, cli_n))
    return GoLive(at, baseline, undone_at if isinstance(undone_at, datetime) else None)


def latest_baseline(database_url: str, before: datetime) -> Figures | None:
    """The baseline of the latest ramp measured at or before ``before``."""
    with session(database_url) as conn:
        row = conn.execute(sql(_HERE, "latest_baseline"), {"before": before}).fetchone()
    return None if row is None else _figures(row)


def _figures(row: tuple[object, ...]) -> Figures:
    batch_p95, batch_n, cli_p95, cli_n = row
    return Figures(
        None if batch_p95 is None else float(str(batch_p95)),
        int(str(batch_n or 0)),
        None if cli_p95 is None else float(str(cli_p95)),
        int(str(cli_n or 0)),
    )
