"""The data directory of the embedded services: private to the user who runs parsefleet.

The data directory is 0700, or under root 0710 with the service account's group, so that the
account the services run as can enter it and nobody else can; so is every directory parsefleet
creates on the way to it; the services' own directories inside belong to that account, 0700.
An existing data directory is tightened to that mode, never loosened; one that belongs to another
user, or that the service account cannot reach, is refused with one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from parsefleet.contract.errors import ConfigError
from parsefleet.services.account import Account

__all__ = ["PRIVATE_MODE", "DataDirectory"]

PRIVATE_MODE = 0o700
_ENTERED_BY_GROUP = 0o710


class DataDirectory:
    """``path``, made private; ``account`` is the one the embedded services run as."""

    def __init__(self, path: Path, account: Account) -> None:
        self.path = path
        self.account = account

    def prepare(self) -> Path:
        """Create (0700 at every level created) or tighten the directory; return its path."""
        try:
            self._make_dirs()
            self._check_owner()
            self._tighten()
        except OSError as exc:
            raise ConfigError(
                f"data directory {self.path}: {exc.strerror or exc}; set PARSEFLEET_DATA_DIR (or --data-dir) "
                "to one you can write"
            ) from None
        blocked = self.account.blocked_at(self.path)
        if blocked is not None:
            raise ConfigError(
                f"the embedded services run as user {self.account.name}, which cannot enter {blocked}"
                f" ({stat.filemode(blocked.stat().st_mode)}): choose a data directory it can reach with"
                " PARSEFLEET_DATA_DIR (under root the default is /var/lib/parsefleet), or set the service URLs"
            )
        return self.path

    def service_dir(self, name: str) -> Path:
        """``<path>/<name>``, owned by the service account, 0700 (created if need be)."""
        directory = self.path / name
        try:
            directory.mkdir(mode=PRIVATE_MODE, exist_ok=True)
            self.account.own(directory)
            os.chmod(directory, PRIVATE_MODE, follow_symlinks=False)
        except OSError as exc:
            raise ConfigError(f"data directory {directory}: {exc.strerror or exc}") from None
        return directory

    def private_dir(self, name: str) -> Path:
        """``<path>/<name>``, owned by this user, 0700 (created if need be)."""
        directory = self.path / name
        directory.mkdir(mode=PRIVATE_MODE, exist_ok=True)
        os.chmod(directory, PRIVATE_MODE, follow_symlinks=False)
        return directory

    def _check_owner(self) -> None:
        info = self.path.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"data directory {self.path} is not a directory")
        if info.st_uid != os.geteuid():
            raise ConfigError(f"data directory {self.path} belongs to another user (uid {info.st_uid})")

    def _make_dirs(self) -> None:
        """``mkdir -p`` where each directory created gets the data directory's own mode (Path.mkdir
        would give the parents 0777 less the umask)."""
        missing: list[Path] = []
        for directory in [self.path, *self.path.parents]:
            if directory.exists():
                break
            missing.append(directory)
        for directory in reversed(missing):
            directory.mkdir(mode=PRIVATE_MODE, exist_ok=True)
            self._restrict(directory)

    def _tighten(self) -> None:
        self._restrict(self.path)

    def _restrict(self, directory: Path) -> None:
        """0700, or under root 0710 with the service account's group."""
        if self.account.is_current:
            os.chmod(directory, PRIVATE_MODE)
            return
        os.chown(directory, os.geteuid(), self.account.gid)
        os.chmod(directory, _ENTERED_BY_GROUP)
