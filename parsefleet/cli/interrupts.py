"""How the CLI ends when it is told to: Ctrl-C, SIGTERM, SIGHUP (a closed terminal).

The first of them raises ``Interrupted`` (a KeyboardInterrupt, so nothing catches it by accident)
in the main thread, so that every ``with`` on the way out runs: a run is cancelled, local workers
stop, the embedded services are left (the last process to leave stops them). Signals after the
first are only acknowledged, so that a second Ctrl-C cannot cut that clean-up short and leave
servers behind. The exit code is 128 + the first signal (130 for Ctrl-C).

Python drops an exception raised while it runs a finaliser (a weakref callback, ``__del__``): a
signal that lands there is lost as an exception. So the signal is also remembered, and the loops
that wait (``check``) raise it if nobody has caught it yet (``caught``).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "caught", "check", "exit_code", "installed"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _State:
    received: int | None = None  # the first signal
    caught = False  # an Interrupted reached a handler of ours


_state = _State()


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
    _state.received = signum
    raise Interrupted(signum)


def check() -> None:
    """Raise the signal received, if its Interrupted was lost on the way (see the module)."""
    if _state.received is not None and not _state.caught:
        _state.caught = True
        raise Interrupted(_state.received)


def caught() -> None:
    """An Interrupted has reached one of our handlers: ``check`` has nothing more to raise."""
    _state.caught = True


@contextmanager
def installed() -> Iterator[None]:
    """Within: the first SIGINT, SIGTERM or SIGHUP becomes ``Interrupted``. After: the handlers
    and state from before (a command run in-process, as the tests do, leaves nothing behind)."""
    before = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    _state.received, _state.caught = None, False
    for signum in _SIGNALS:
        signal.signal(signum, _raise)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number (130 for Ctrl-C)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT))
