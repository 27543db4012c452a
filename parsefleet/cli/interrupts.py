"""How the CLI ends when it is told to: Ctrl-C, SIGTERM, SIGHUP (a closed terminal).

The first of them raises ``Interrupted`` (a KeyboardInterrupt, so nothing catches it by accident)
in the main thread, so that every ``with`` on the way out runs: a run is cancelled, local workers
stop, the embedded services are left (the last process to leave stops them). Signals after the
first are only acknowledged, so that a second Ctrl-C cannot cut that clean-up short and leave
servers behind. The exit code is 128 + the first signal (130 for Ctrl-C).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

__all__ = ["Interrupted", "exit_code", "install"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The process received ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _acknowledge(_signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write("parsefleet: still stopping what it started; a moment\n")


def _raise(signum: int, _frame: FrameType | None) -> None:
    for other in _SIGNALS:
        signal.signal(other, _acknowledge)
    raise Interrupted(signum)


def install() -> None:
    """Turn the first SIGINT, SIGTERM or SIGHUP into ``Interrupted``."""
    for signum in _SIGNALS:
        signal.signal(signum, _raise)


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number (130 for Ctrl-C)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT))
