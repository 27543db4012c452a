"""A live progress line on stderr: a bar on a terminal, a line every tenth elsewhere.

It shows what the producer has seen and sent apart from what the workers have finished (the
number sent grows while the producer lists and reads), the targets read out of those given, the
files finished per minute over the last ``_RATE_WINDOW_S`` ("now"), and once everything is sent
the ETA at that rate; and a clock that runs from the start of the command, services and listing
included.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Progress", "ProgressBar"]

_WIDTH = 30
_RATE_WINDOW_S = 30.0


@dataclass(frozen=True, slots=True)
class Progress:
    """One reading of a run: files seen and sent by the producer, finished by the workers; targets
    the producer is done with, of those given (0: not counted)."""

    seen: int
    sent: int
    done: int
    phase: str  # "sending" while the producer works, then "waiting"
    targets_read: int = 0
    targets: int = 0


class ProgressBar:
    """Draws a ``Progress``; ``started_s`` (``clock``, time.monotonic) is when the command started."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        started_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.clock = clock
        self.started_s = clock() if started_s is None else started_s
        self._last_tenth = -1
        self._drawn = False
        self._readings: deque[tuple[float, int]] = deque()  # (clock, files done) of the last window

    def update(self, progress: Progress) -> None:
        """Redraw."""
        if not self.enabled:
            return
        line = self.line(progress)
        fraction = progress.done / progress.sent if progress.sent else 0.0
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            self._drawn = True
        elif int(fraction * 10) != self._last_tenth:
            self._last_tenth = int(fraction * 10)
            self.stream.write(line + "\n")

    def line(self, progress: Progress) -> str:
        """The progress line for ``progress`` (read now)."""
        now_s = self.clock()
        self._readings.append((now_s, progress.done))
        while len(self._readings) > 2 and now_s - self._readings[0][0] > _RATE_WINDOW_S:
            self._readings.popleft()
        fraction = progress.done / progress.sent if progress.sent else 0.0
        filled = min(_WIDTH, int(fraction * _WIDTH))
        bar = "#" * filled + "." * (_WIDTH - filled)
        targets = f"  targets {progress.targets_read:,}/{progress.targets:,}" if progress.targets else ""
        rate = self._rate_now()
        return (
            f"[{bar}] {progress.done:,}/{progress.sent:,} sent files parsed  (seen {progress.seen:,}){targets}"
            f"  {rate:,.0f} files/min now{_eta(progress, rate)}  {now_s - self.started_s:.1f} s"
            f"  {progress.phase}"
        )

    def _rate_now(self) -> float:
        """Files finished per minute over the readings of the last window (since the start at first)."""
        (first_s, first_done), (last_s, last_done) = self._readings[0], self._readings[-1]
        if len(self._readings) < 2 or last_s <= first_s:
            elapsed_s = last_s - self.started_s
            return last_done / elapsed_s * 60 if elapsed_s > 0 else 0.0
        return (last_done - first_done) / (last_s - first_s) * 60

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


def _eta(progress: Progress, rate: float) -> str:
    """Once everything is sent: the time left at ``rate`` (files/min now)."""
    if progress.phase != "waiting" or rate <= 0:
        return ""
    return f"  ETA {max(0, progress.sent - progress.done) / rate * 60:.0f} s"
