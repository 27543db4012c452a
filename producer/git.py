"""The one place parsefleet runs git: on a target's repository, with its power to run programs taken away.

A repository's own configuration (``.git/config`` and whatever it includes) can name programs that
git runs: ``core.fsmonitor`` on every index read, hooks, the filters and diff drivers that
``.gitattributes`` selects, ``diff.external``, ``core.sshCommand``, ``core.askPass``, credential
helpers, the pager. None of them may run when parsefleet reads an untrusted repository, so every
invocation here:

- starts from an empty environment (``PATH`` only), reads no system or user configuration
  (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null``, ``GIT_ATTR_NOSYSTEM``, ``HOME`` pointing
  nowhere), never prompts, never takes a lock, never follows replace refs;
- overrides, with command-scope configuration (``GIT_CONFIG_COUNT``: it outranks every file, and
  its keys need no quoting), each setting that names a program: the fixed list ``_INERT``, plus
  every filter, diff and merge driver and credential helper that the repository's configuration
  defines (read first with ``git config --list``, includes followed, or, for a plain file that
  git would read the same, from the file itself: ``gitconfig``), set to the empty string, so that
  git either skips it or fails to run it (it never falls back to a default program);
- refuses every transport (``protocol.allow=never``) and pages nothing (``--no-pager``);
- names the git directory and work tree explicitly (the directory holding ``.git``, found here as
  git's own discovery does), so ``core.worktree`` cannot point the listing somewhere else.

Ownership (``safe.directory``): git 2.35.2 and later refuse a repository that another user owns
when they discover it themselves, because its configuration could run that user's programs. Here
the configuration cannot run programs, and an explicit git directory is not subject to that check:
parsefleet reads repositories whatever their owner (root reading a CI checkout is the usual case),
and says so in docs/security.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from parsefleet.producer.gitconfig import plain_entries

__all__ = ["Git", "find_work_tree"]

_TIMEOUT_S = 600
_PIPE_BYTES = 4096  # what a pipe always holds (one page): input this small is written before reading
T = TypeVar("T")
_FINDS_CHUNK_BYTES = 64 * 1024
_NOWHERE = "/nonexistent"  # HOME: no ~/.gitconfig, ~/.config/git/{config,ignore,attributes}
_BASE_ENVIRONMENT = {
    "HOME": _NOWHERE,
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_NO_LAZY_FETCH": "1",
}
# Settings naming a program, or reaching outside the repository, with their inert values. An empty
# program is skipped by git (pager, askpass, credential helpers, sshCommand) or fails to start.
_INERT: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("core.pager", "cat"),  # git treats "cat" as no pager at all
    ("core.editor", ""),
    ("sequence.editor", ""),
    ("core.askPass", ""),
    ("core.sshCommand", ""),
    ("core.gitProxy", ""),
    ("core.alternateRefsCommand", ""),
    ("core.attributesFile", os.devnull),
    ("core.excludesFile", os.devnull),
    ("credential.helper", ""),  # the empty value also clears helpers defined before it
    ("diff.external", ""),
    ("uploadpack.packObjectsHook", ""),
    ("gpg.program", ""),
    ("gpg.ssh.program", ""),
    ("gpg.x509.program", ""),
    ("log.showSignature", "false"),
    ("protocol.allow", "never"),
    ("submodule.recurse", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("safe.directory", "*"),
)
# Keys whose name the repository chooses (``filter.<driver>.clean``, ``credential.<url>.helper``).
_DRIVER_KEY = re.compile(
    r"(?:filter\..*\.(?:clean|smudge|process)|diff\..*\.(?:command|textconv)|merge\..*\.driver"
    r"|credential\..*\.helper|remote\..*\.(?:uploadpack|receivepack|proxy|vcs)|submodule\..*\.update"
    r"|(?:diff|merge)tool\..*\.(?:cmd|path)|trailer\..*\.(?:cmd|command)|man\..*\.(?:cmd|path))",
    re.DOTALL,
)


def find_work_tree(path: Path) -> Path | None:
    """The top of the git work tree holding ``path`` (the nearest directory with a ``.git`` entry,
    as git's discovery finds it: not across a mount point), or None."""
    device = path.stat().st_dev
    for directory in (path, *path.parents):
        try:
            info = directory.stat()
        except OSError:
            return None
        if info.st_dev != device:
            return None
        if (directory / ".git").is_dir() or (directory / ".git").is_file():
            return directory
    return None


class Git:
    """git for one repository (``git_dir``, ``work_tree``: None for a bare one), run from ``cwd``."""

    def __init__(self, git_dir: Path, work_tree: Path | None, cwd: Path) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        self.cwd = cwd
        self._settings: tuple[tuple[str, str], ...] = _INERT
        self.origin_url: bytes | None = None  # remote.origin.url, as ``neutralise`` read it

    @classmethod
    def for_target(cls, root: Path) -> Git | None:
        """git for the work tree holding ``root``, run from ``root``; None outside a work tree or
        when the repository's configuration cannot be read."""
        top = find_work_tree(root)
        if top is None:
            return None
        git = cls(top / ".git", top, root)
        return git if git.neutralise() else None

    def neutralise(self) -> bool:
        """Read the repository's configuration and add an inert value for each program it names (and
        keep ``remote.origin.url``); False when git cannot read it (not a repository)."""
        entries = plain_entries(self.git_dir)
        if entries is None:
            entries = self._listed_entries()
        if entries is None:
            return False
        keys = {key.decode("utf-8", "surrogateescape") for key, _value in entries}
        urls = [value for key, value in entries if key == b"remote.origin.url" and value is not None]
        self.origin_url = urls[-1] if urls else None  # the last one, as ``git config --get`` gives it
        fixed = {key.lower() for key, _value in _INERT}
        named = sorted(key for key in keys if _DRIVER_KEY.fullmatch(key) and key.lower() not in fixed)
        self._settings = (*_INERT, *((key, "") for key in named))
        return True

    def _listed_entries(self) -> list[tuple[bytes, bytes | None]] | None:
        """The configuration as ``git config --list`` reads it (includes followed); None when git cannot."""
        done = self.run("config", "--list", "-z")
        if done is None or done.returncode != 0:
            return None
        return [_entry(item) for item in done.stdout.split(b"\0")]

    def invocation(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of ``git args`` (what ``run`` starts)."""
        tree = [] if self.work_tree is None else [f"--work-tree={self.work_tree}"]
        argv = ["git", "--no-pager", f"--git-dir={self.git_dir}", *tree, *args]
        env = {"PATH": os.environ.get("PATH", os.defpath), **_BASE_ENVIRONMENT}
        env["GIT_CONFIG_COUNT"] = str(len(self._settings))
        for number, (key, value) in enumerate(self._settings):
            env[f"GIT_CONFIG_KEY_{number}"] = key
            env[f"GIT_CONFIG_VALUE_{number}"] = value
        return argv, env

    def finds(self, pattern: re.Pattern[bytes], *args: str) -> bool | None:
        """Whether the NUL-separated output of ``git args`` holds an entry matching ``pattern``,
        read as it comes and git stopped at the first match (a large tree is not listed whole);
        None when git cannot be started or fails."""
        argv, env = self.invocation(*args)
        try:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=self.cwd, env=env)
        except OSError:
            return None
        assert process.stdout is not None
        with process:
            pending = b""
            while chunk := process.stdout.read(_FINDS_CHUNK_BYTES):
                complete, _, pending = (pending + chunk).rpartition(b"\0")
                if pattern.search(complete + b"\0"):
                    process.kill()
                    return True
            found = bool(pending) and pattern.search(pending + b"\0") is not None
            return None if process.wait(timeout=_TIMEOUT_S) != 0 else found

    def read(self, reader: Callable[[IO[bytes]], T], *args: str, stdin: bytes = b"") -> T | None:
        """``reader``'s result on the output of ``git args`` as it comes (a large ``stdin`` is written on
        a thread of its own, so that neither side waits on a full pipe); None when git cannot be
        started or fails. git is stopped if ``reader`` returns before the output ends."""
        argv, env = self.invocation(*args)
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=self.cwd, env=env
            )
        except OSError:
            return None
        assert process.stdin is not None and process.stdout is not None
        writer = threading.Thread(target=_write_all, args=(process.stdin, stdin), daemon=True)
        with process:
            if len(stdin) <= _PIPE_BYTES:
                _write_all(process.stdin, stdin)
            else:
                writer.start()
            try:
                result = reader(process.stdout)
            finally:
                if process.stdout.read(1):
                    process.kill()
                if writer.is_alive():
                    writer.join()
            return result if process.wait(timeout=_TIMEOUT_S) == 0 else None

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes] | None:
        """``git args`` with its output captured; None when git cannot be started or times out."""
        argv, env = self.invocation(*args)
        try:
            return subprocess.run(
                argv, input=stdin, capture_output=True, check=False, timeout=_TIMEOUT_S, cwd=self.cwd, env=env
            )
        except (OSError, subprocess.TimeoutExpired):
            return None


def _entry(item: bytes) -> tuple[bytes, bytes | None]:
    """One ``config --list -z`` entry: its name, and its value (None: a key without ``=``)."""
    key, newline, value = item.partition(b"\n")
    return key, value if newline else None


def _write_all(pipe: IO[bytes], data: bytes) -> None:
    """Write ``data`` to git's input and close it (git may have stopped reading: that is no error)."""
    try:
        with pipe:
            pipe.write(data)
    except BrokenPipeError:
        pass
