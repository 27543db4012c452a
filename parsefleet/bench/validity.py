"""When a benchmark invocation cannot be trusted: pure rules over its figures.

The limit is measured between the fleet runs (limit, fleet, limit, fleet, limit). The invocation is
**invalid** when the limit moved by more than ``max_limit_move`` between its measurements (the
machine's own speed changed under the fleet runs: a neighbour's load, a clock change), or when an
efficiency exceeds ``max_efficiency`` (the fleet cannot beat the plain loop on the same cores: a
figure over 1 means the limit was starved while it was measured). Its efficiencies are then not
printed as figures, and the command exits non-zero with the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Validity", "invalid_reasons", "limit_move"]


@dataclass(frozen=True)
class Validity:
    """The bounds of a trustworthy invocation."""

    max_efficiency: float = 1.05
    max_limit_move: float = 0.10


def limit_move(limits_files_per_min: Sequence[float]) -> float:
    """How far the limit moved across its measurements: the largest over the smallest, minus 1."""
    measured = [value for value in limits_files_per_min if value > 0]
    if len(measured) < 2:
        return 0.0
    return max(measured) / min(measured) - 1


def invalid_reasons(
    limits_files_per_min: Sequence[float], efficiencies: Mapping[str, float], validity: Validity
) -> list[str]:
    """Why the invocation is invalid (empty: valid). ``efficiencies``: name -> figure."""
    reasons = []
    if any(value <= 0 for value in limits_files_per_min):
        reasons.append("a limit measurement finished no file")
    moved = limit_move(limits_files_per_min)
    if moved > validity.max_limit_move:
        shown = " / ".join(f"{value:,.0f}" for value in limits_files_per_min)
        reasons.append(
            f"the limit moved by {moved:.0%} between its measurements ({shown} files/min), more than"
            f" {validity.max_limit_move:.0%}: the machine's speed changed under the fleet runs"
        )
    reasons.extend(
        f"efficiency {name} {value:.2f} > {validity.max_efficiency:.2f}: the limit was starved while measured"
        for name, value in efficiencies.items()
        if value > validity.max_efficiency
    )
    return reasons
