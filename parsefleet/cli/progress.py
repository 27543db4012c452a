"""A live progress line on stderr: a bar on a terminal, a line every tenth elsewhere.

It shows what the producer has seen and sent apart from what the workers have finished (the
number sent grows while the producer lists and reads), and a clock that runs from the start of
the command, services and listing included.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Progress", "ProgressBar"]

_WIDTH = 30


@dataclass(frozen=True, slots=True)
class Progress:
    """One reading of a run: files seen and sent by the producer, finished by the workers."""

    seen: int
    sent: int
    done: int
    phase: str  # "sending" while the producer works, then "waiting"


class ProgressBar:
    """Draws a ``Progress``; ``started_s`` (time.monotonic) is when the command started."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, started_s: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.started_s = time.monotonic() if started_s is None else started_s
        self._last_tenth = -1
        self._drawn = False

    def update(self, progress: Progress) -> None:
        """Redraw."""
        if not self.enabled:
            return
        fraction = progress.done / progress.sent if progress.sent else 0.0
        elapsed_s = time.monotonic() - self.started_s
        rate = progress.done / elapsed_s * 60 if elapsed_s > 0 else 0.0
        filled = min(_WIDTH, int(fraction * _WIDTH))
        bar = "#" * filled + "." * (_WIDTH - filled)
        line = (
            f"[{bar}] {progress.done:,}/{progress.sent:,} sent files parsed  (seen {progress.seen:,})"
            f"  {rate:,.0f} files/min  {elapsed_s:.1f} s  {progress.phase}"
        )
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            self._drawn = True
        elif int(fraction * 10) != self._last_tenth:
            self._last_tenth = int(fraction * 10)
            self.stream.write(line + "\n")

    def say(self, message: str) -> None:
        """A line of its own, above the bar."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
        self.stream.write(message + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
