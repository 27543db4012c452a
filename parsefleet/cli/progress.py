"""A live progress line on stderr: a bar on a terminal, a line every tenth elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]

_WIDTH = 30


class ProgressBar:
    """Draws ``done/total files`` with a bar, rate and elapsed time."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_tenth = -1

    def update(self, done: int, total: int, phase: str) -> None:
        """Redraw with ``done`` of ``total`` files finished."""
        if not self.enabled:
            return
        fraction = done / total if total else 1.0
        elapsed_s = time.monotonic() - self.started
        rate = done / elapsed_s * 60 if elapsed_s > 0 else 0.0
        filled = int(fraction * _WIDTH)
        bar = "#" * filled + "." * (_WIDTH - filled)
        line = f"[{bar}] {done}/{total} files  {rate:,.0f}/min  {elapsed_s:.1f} s  {phase}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
        elif int(fraction * 10) != self._last_tenth:
            self._last_tenth = int(fraction * 10)
            self.stream.write(line + "\n")

    def close(self) -> None:
        """End the progress line."""
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
