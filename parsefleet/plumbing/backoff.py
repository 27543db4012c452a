"""Backoff: waiting between tries of a service that is unreachable, within a budget of seconds."""

from __future__ import annotations

import logging
import time

__all__ = ["Backoff"]

log = logging.getLogger(__name__)


class Backoff:
    """Pauses from ``first_s``, doubling up to ``max_s``, for ``budget_s`` in all."""

    def __init__(self, budget_s: float, first_s: float, max_s: float) -> None:
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s
        self.pause_s = first_s
        self.max_s = max_s
        self.pauses = 0

    def pause(self, exc: Exception) -> None:
        """Sleep before the next try (the first pause logs ``exc``), or raise ``exc`` when that try
        would come past the budget."""
        if time.monotonic() + self.pause_s > self.deadline:
            raise exc
        if self.pauses == 0:
            log.warning("%s; retrying for up to %.0f s", exc, self.budget_s)
        time.sleep(self.pause_s)
        self.pause_s = min(self.pause_s * 2, self.max_s)
        self.pauses += 1
