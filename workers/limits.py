"""Caps that act while a file is parsing: a per-file deadline and a resident-memory budget.

tree-sitter calls a progress callback while it parses (only when the source comes through a read
callback); returning True cancels the parse. ``ParseBudget`` is that callback.
"""

from __future__ import annotations

import os
import time

from common.errors import ParseCancelled, ParseFailure, ParseTimeout

__all__ = ["ParseBudget", "rss_mb"]

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_RSS_CHECK_EVERY = 32  # progress callbacks between two reads of /proc/self/statm


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm", "rb") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * _PAGE_BYTES / 1_048_576


class ParseBudget:
    """Time and memory allowed to one parse; pass ``budget.progress`` as tree-sitter's callback."""

    def __init__(self, timeout_s: float, rss_limit_mb: float | None = None) -> None:
        self.timeout_s = timeout_s
        self.rss_limit_mb = rss_limit_mb
        self._deadline = time.monotonic() + timeout_s
        self._calls = 0
        self.breach: ParseFailure | None = None

    def progress(self, _byte_offset: int, _has_error: bool) -> bool:
        """Return True (cancel) once the deadline has passed or RSS is over budget."""
        if time.monotonic() > self._deadline:
            self.breach = ParseTimeout(f"parse ran past {self.timeout_s:g} s")
            return True
        self._calls += 1
        if self.rss_limit_mb is not None and self._calls % _RSS_CHECK_EVERY == 0:
            current_mb = rss_mb()
            if current_mb > self.rss_limit_mb:
                self.breach = ParseCancelled(
                    f"parse cancelled at {current_mb:.0f} MB RSS (budget {self.rss_limit_mb:.0f} MB)"
                )
                return True
        return False
