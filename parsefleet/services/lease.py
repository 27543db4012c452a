"""Processes sharing one data directory's embedded services: the first starts them, the others
join, and the last to leave stops them.

Two lock files in the data directory. ``services.lock`` is held exclusively while services are
started or stopped, so that two processes never start two servers on one directory.
``services.users`` is held shared by every process using the services, for as long as it uses
them; a process that leaves takes the exclusive lock, lets go of its share and tries to take the
users file exclusively: it succeeds only when nobody else holds a share, and then it stops the
services. The kernel drops the locks of a process that dies, so a killed process never holds the
services up, and never stops them under another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["ServiceLease"]

_LOCK_MODE = 0o600


class ServiceLease:
    """A share of the embedded services of one data directory.

    ``join()`` takes a share and the start/stop lock: start what is not running, then ``joined()``
    lets others in. ``leave()`` gives the share up; when it returns True this was the last one and
    the start/stop lock is held: stop the services. ``close()`` always ends it.
    """

    def __init__(self, directory: Path) -> None:
        self._guard = _open(directory / "services.lock")
        self._users = _open(directory / "services.users")

    def join(self) -> None:
        """Take a share, holding the start/stop lock until ``joined()``."""
        fcntl.flock(self._guard, fcntl.LOCK_EX)
        fcntl.flock(self._users, fcntl.LOCK_SH)

    def joined(self) -> None:
        """The services are running: others may join or leave now."""
        fcntl.flock(self._guard, fcntl.LOCK_UN)

    def leave(self) -> bool:
        """Give up this share; True when nobody else holds one (the start/stop lock is then held)."""
        fcntl.flock(self._guard, fcntl.LOCK_EX)
        fcntl.flock(self._users, fcntl.LOCK_UN)
        try:
            fcntl.flock(self._users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._guard, fcntl.LOCK_UN)
            return False
        return True

    def take_unused(self) -> bool:
        """The start/stop lock and the users file, both exclusively, without waiting: True when
        nobody uses the services nor is starting or stopping them (they may be left running by a
        process that was killed), and then both are held until ``close()``."""
        for fd in (self._guard, self._users):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        return True

    def close(self) -> None:
        """Release every lock."""
        for fd in (self._users, self._guard):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._users = self._guard = -1


def _open(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _LOCK_MODE)
    os.fchmod(fd, _LOCK_MODE)
    return fd
