"""``parsefleet telemetry ramp``: move the flag 0% -> 25% -> 75% -> 100% while the figures hold.

Before the first step the controller measures the baseline p95 of batch and CLI command
durations (parsefleet.telemetry.figures, Step 1 data) over ``baseline_window_s``, and takes a snapshot of
the telemetry tables. Then, for each step, it sets the flag and checks every
``check_interval_s`` (60 s at most):

- p95 over the last ``eval_window_s`` beyond ±``rollback_beyond_pct`` (7%) of the baseline for
  ``breach_s`` (10 minutes) without a break: the flag goes back to 0% (``rollback``), so the flag
  reaches 0% at most one check interval after the breach has lasted 10 minutes;
- once the step has been held ``hold_s``: p95 over the last ``hold_s`` within
  ±``advance_within_pct`` (5%) for every gated metric: next step (``advance``); otherwise ``hold``;
- the flag changed by someone else (a rollback, a revert, a ``flag set``): the ramp stops (``abort``);
- not done after ``max_duration_s``: ``rollback``;
- an error (Redis or PostgreSQL away) or Ctrl-C: ``rollback`` (best effort), since nobody watches.

A metric gates the ramp when the baseline window holds at least its minimum of samples (no
batches at all: the ramp refuses to start); a window with fewer samples than that says nothing
(neither breach nor advance). Clock and sleep are injected, so tests compress time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from parsefleet.contract.errors import ConfigError, ParsefleetError, RampError
from parsefleet.telemetry.decisions import Decision, DecisionLog
from parsefleet.telemetry.figures import Figures, variance_pct
from parsefleet.telemetry.flag import TelemetryFlag

__all__ = ["RampController", "RampOutcome", "RampPlan"]

Measure = Callable[[datetime, datetime], Figures]
_MAX_CHECK_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class RampPlan:
    """How the ramp moves. Defaults: shared/DESIGN.md (25 -> 75 -> 100 within 45 minutes)."""

    steps_pct: tuple[int, ...] = (25, 75, 100)
    # each step is held this long before it may advance: 3 x 15 min = 45 min, 100% reached at 30 min
    hold_s: float = 900.0
    # the pre-ramp window of the baseline p95
    baseline_window_s: float = 3600.0
    # how often the figures are checked; at most 60 s so that a rollback follows a breach within a minute
    check_interval_s: float = 60.0
    # the sliding window of the breach check
    eval_window_s: float = 300.0
    advance_within_pct: float = 5.0
    rollback_beyond_pct: float = 7.0
    # how long the variance must stay beyond rollback_beyond_pct before the flag goes back to 0%
    breach_s: float = 600.0
    # samples a window needs before its p95 counts (batches; CLI commands)
    min_batch_samples: int = 20
    min_cli_samples: int = 5
    # a ramp not done by then rolls back (it can hold for a long time on figures within 5..7%)
    max_duration_s: float = 7200.0

    def validated(self) -> RampPlan:
        """Return self, or raise ConfigError naming the first unusable value."""
        steps = self.steps_pct
        if not steps or list(steps) != sorted(set(steps)) or steps[0] <= 0 or steps[-1] > 100:
            raise ConfigError(f"ramp steps must rise within 1..100, got {','.join(map(str, steps))}")
        if not 0 < self.check_interval_s <= _MAX_CHECK_INTERVAL_S:
            raise ConfigError(f"the check interval must be within 0..60 s, got {self.check_interval_s:g}")
        if min(self.hold_s, self.baseline_window_s, self.eval_window_s, self.breach_s) <= 0:
            raise ConfigError("ramp windows and hold times must be positive")
        if not 0 < self.advance_within_pct <= self.rollback_beyond_pct:
            raise ConfigError("the advance band must be positive and within the rollback band")
        return self


@dataclass(frozen=True, slots=True)
class RampOutcome:
    """How a ramp ended: ``done`` (at the last step), ``rolled back`` (0%) or ``aborted`` (left alone)."""

    ramp_id: str
    status: str
    pct: int


@dataclass(slots=True)
class _Step:
    """The step being held: its percentage, since when, and since when its figures breach."""

    pct: int
    started: datetime
    breach_since: datetime | None = None


class RampController:
    """Runs one ramp: decisions go to ``decisions``, the flag to Redis, figures come from ``measure``."""

    def __init__(
        self,
        plan: RampPlan,
        flag: TelemetryFlag,
        measure: Measure,
        decisions: DecisionLog,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        snapshot: Callable[[], Path] | None = None,
    ) -> None:
        self.plan = plan.validated()
        self.ramp_id = decisions.ramp_id or str(uuid.uuid4())
        decisions.ramp_id = self.ramp_id
        self._flag = flag
        self._measure = measure
        self._decisions = decisions
        self._clock = clock
        self._sleep = sleep
        self._snapshot = snapshot
        self._baseline = Figures(None, 0, None, 0)
        self._started = clock()

    def run(self) -> RampOutcome:
        """Ramp from 0% to the last step, or roll back; RampError when the ramp cannot start."""
        self._started = self._clock()
        self._record(Decision("start", detail=self._plan_text()))
        self._check_start()
        self._baseline = self._measure_baseline()
        if self._snapshot is not None:
            self._record(Decision("snapshot", detail=str(self._snapshot())))
        try:
            return self._steps()
        except (ParsefleetError, KeyboardInterrupt) as exc:
            self._stop(exc)
            raise

    def _steps(self) -> RampOutcome:
        pct = 0
        for target in self.plan.steps_pct:
            self._flag.set_pct(target)
            self._record(Decision("advance", pct, target, detail="go-live" if target == 100 else ""))
            pct = target
            status = self._hold(_Step(pct, self._clock()))
            if status != "advance":
                return RampOutcome(self.ramp_id, status, 0 if status == "rolled back" else pct)
        self._record(Decision("done", pct, pct))
        return RampOutcome(self.ramp_id, "done", pct)

    def _stop(self, exc: BaseException) -> None:
        """The ramp cannot go on (an outage, Ctrl-C): nobody watches the figures, so back to 0%, best effort."""
        reason = f"ramp stopped: {exc or type(exc).__name__}"
        try:
            before = self._flag.read_lenient()
            self._flag.set_pct(0)
            self._record(Decision("rollback", before.pct, 0, detail=reason))
        except ParsefleetError:
            return

    def _check_start(self) -> None:
        state = self._flag.read()
        problem = None
        if state.reverted:
            problem = "Step 2 was reverted; `parsefleet flag set 0 --enable-step2` first"
        elif state.pct != 0:
            problem = f"the flag is at {state.pct}%; the ramp starts from 0% (`parsefleet telemetry rollback` first)"
        if problem is not None:
            self._record(Decision("abort", state.pct, state.pct, detail=problem))
            raise RampError(problem)

    def _measure_baseline(self) -> Figures:
        now = self._clock()
        baseline = self._measure(now - timedelta(seconds=self.plan.baseline_window_s), now)
        gated = []
        if baseline.batch_samples >= self.plan.min_batch_samples:
            gated.append("parser_duration_ms")
        if baseline.cli_samples >= self.plan.min_cli_samples:
            gated.append("cli_cmd_duration_ms")
        else:
            baseline = replace(baseline, cli_p95_ms=None)
        detail = (
            f"gates: {', '.join(gated) or 'none'} ({baseline.batch_samples} batches, {baseline.cli_samples} commands)"
        )
        self._record(Decision("baseline", 0, 0, baseline, baseline, detail))
        if "parser_duration_ms" not in gated:
            problem = (
                f"{baseline.batch_samples} batches in the baseline window, {self.plan.min_batch_samples} needed: "
                "run work at 0% first or widen --baseline-window"
            )
            self._record(Decision("abort", 0, 0, detail=problem))
            raise RampError(problem)
        return baseline

    def _hold(self, step: _Step) -> str:
        """Check until the step advances ("advance"), rolls back ("rolled back") or is overridden ("aborted")."""
        while True:
            self._sleep(self.plan.check_interval_s)
            now = self._clock()
            overridden = self._overridden(step.pct)
            if overridden:
                self._record(Decision("abort", step.pct, step.pct, detail=overridden))
                return "aborted"
            recent = self._measure(now - timedelta(seconds=self.plan.eval_window_s), now)
            verdict = self._verdict(step, recent, now)
            if verdict != "hold":
                return verdict

    def _verdict(self, step: _Step, recent: Figures, now: datetime) -> str:
        if self._beyond(recent, self.plan.rollback_beyond_pct):
            step.breach_since = step.breach_since or now
            lasted_s = (now - step.breach_since).total_seconds()
            if lasted_s >= self.plan.breach_s:
                return self._roll_back(step, recent, f"beyond ±{self.plan.rollback_beyond_pct:g}% for {lasted_s:.0f} s")
            self._record(Decision("breach", step.pct, step.pct, recent, self._baseline, f"for {lasted_s:.0f} s"))
            return "hold"
        step.breach_since = None
        held_s = (now - step.started).total_seconds()
        if held_s >= self.plan.hold_s:
            window_start = max(step.started, now - timedelta(seconds=self.plan.hold_s))
            held = self._measure(window_start, now)
            if self._within(held, self.plan.advance_within_pct):
                return "advance"
            reason = f"held {held_s:.0f} s, not within ±{self.plan.advance_within_pct:g}%"
        else:
            reason = f"held {held_s:.0f} of {self.plan.hold_s:.0f} s"
        if (now - self._started).total_seconds() >= self.plan.max_duration_s:
            return self._roll_back(step, recent, f"not done within {self.plan.max_duration_s:.0f} s")
        self._record(Decision("hold", step.pct, step.pct, recent, self._baseline, reason))
        return "hold"

    def _roll_back(self, step: _Step, recent: Figures, reason: str) -> str:
        self._flag.set_pct(0)
        self._record(Decision("rollback", step.pct, 0, recent, self._baseline, reason))
        return "rolled back"

    def _overridden(self, pct: int) -> str | None:
        state = self._flag.read()
        if state.reverted:
            return "Step 2 was reverted outside the ramp"
        if state.pct != pct:
            return f"the flag was set to {state.pct}% outside the ramp"
        return None

    def _variances(self, figures: Figures) -> list[float | None]:
        """Variance of each gated metric; None where the window has too few samples."""
        found: list[float | None] = []
        base = self._baseline
        found.append(
            variance_pct(figures.batch_p95_ms, base.batch_p95_ms)
            if figures.batch_samples >= self.plan.min_batch_samples
            else None
        )
        if base.cli_p95_ms is not None:
            found.append(
                variance_pct(figures.cli_p95_ms, base.cli_p95_ms)
                if figures.cli_samples >= self.plan.min_cli_samples
                else None
            )
        return found

    def _beyond(self, figures: Figures, limit_pct: float) -> bool:
        return any(v is not None and abs(v) > limit_pct for v in self._variances(figures))

    def _within(self, figures: Figures, limit_pct: float) -> bool:
        return all(v is not None and abs(v) <= limit_pct for v in self._variances(figures))

    def _record(self, decision: Decision) -> None:
        self._decisions.record(decision, self._clock())

    def _plan_text(self) -> str:
        plan = self.plan
        return (
            f"steps {'/'.join(map(str, plan.steps_pct))}%, hold {plan.hold_s:.0f} s, "
            f"baseline {plan.baseline_window_s:.0f} s, check every {plan.check_interval_s:.0f} s, "
            f"advance within ±{plan.advance_within_pct:g}%, rollback beyond ±{plan.rollback_beyond_pct:g}% "
            f"for {plan.breach_s:.0f} s"
        )
