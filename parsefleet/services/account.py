"""The operating-system account that runs the embedded services and, under root, the local workers.

As an ordinary user, that is the user: nothing changes hands. As root, PostgreSQL refuses to run
at all and parsing untrusted input with C code should not run as root either: the services and
workers run as the ``service_user`` setting (``parsefleet``), a system account with no login and
no home, created on first use. Only root and that account can enter what it owns.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parsefleet.contract.errors import EmbeddedServiceError

__all__ = ["Account", "service_account"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Account:
    """An account processes can run as: its name, uid and primary gid."""

    name: str
    uid: int
    gid: int

    @property
    def is_current(self) -> bool:
        """True when this process already runs as the account (no switching)."""
        return self.uid == os.geteuid()

    def process_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` options that run a child as this account, with no other groups."""
        if self.is_current:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        """Give ``path`` to this account (a no-op for the current one)."""
        if not self.is_current:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def blocked_at(self, path: Path) -> Path | None:
        """The first directory on the way to ``path`` that this account may not pass through
        (no search permission), or None when it can reach ``path``."""
        if self.uid == 0:
            return None
        for directory in [*reversed(path.parents), path]:
            if not directory.is_dir():
                break
            if not self._may(directory.stat(), stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
                return directory
        return None

    def _may(self, info: os.stat_result, user_bit: int, group_bit: int, other_bit: int) -> bool:
        if info.st_uid == self.uid:
            return bool(info.st_mode & user_bit)
        if info.st_gid == self.gid or self.name in grp.getgrgid(info.st_gid).gr_mem:
            return bool(info.st_mode & group_bit)
        return bool(info.st_mode & other_bit)


def current_account() -> Account:
    """The account this process runs as."""
    uid = os.geteuid()
    return Account(pwd.getpwuid(uid).pw_name, uid, os.getegid())


def service_account(name: str) -> Account:
    """The account the embedded services run as: this process's own, or as root the account
    ``name``, created as a system account (no login, no home) when it does not exist."""
    if os.geteuid() != 0:
        return current_account()
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = _create(name)
    if entry.pw_uid == 0:
        raise EmbeddedServiceError(f"service user {name!r} is root; set PARSEFLEET_SERVICE_USER to an unprivileged one")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    command = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    command += ["--shell", "/usr/sbin/nologin", name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise EmbeddedServiceError(f"cannot create the service user {name!r}: {exc.strerror}") from None
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"useradd exited {done.returncode}"
        raise EmbeddedServiceError(f"cannot create the service user {name!r}: {why}")
    log.warning("created the system user %s: the embedded services and local workers run as it", name)
    return pwd.getpwnam(name)
