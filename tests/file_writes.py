"""What a process tree changed on the filesystem, read from its strace: every path it created,
opened for writing, renamed, linked, removed or changed the attributes of, and that exists or
existed (failed calls changed nothing).

``traced(command)`` is ``command`` under ``strace -f`` with the options the parser expects: every
string in hex (``-xx``, so no name can forge a line), whole (``-s``), file descriptors with their
paths (``-y``: the kernel's own resolution, for an ``openat`` the path it opened). Relative paths
of calls without a descriptor are resolved against the calling process's working directory,
followed through ``chdir``/``fchdir`` and inherited at ``clone``/``fork``/``vfork``; a path through
``/proc/self/fd/N`` (glibc's way to chmod without following a link) is the path of descriptor N.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Write", "traced", "writes"]

_TRACED = "%file,%process,bind,fchmod,fchown,ftruncate,fallocate,fsetxattr,fremovexattr"  # the fd-based changes too
_OPTIONS = ("-f", "-y", "-qq", "-xx", "-s", "65536", "--seccomp-bpf", "-e", f"trace={_TRACED}", "-e", "signal=none")
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND|O_TMPFILE")
_LINE = re.compile(r"^(\d+) (\w+)\((.*)\) += (-?\d+)(?:<((?:\\x[0-9a-f]{2})*)>)?")
_FD = re.compile(r"^(\d+|AT_FDCWD)<((?:\\x[0-9a-f]{2})*)>$")
_STRING = re.compile(r'^"((?:\\x[0-9a-f]{2})*)"$')
_SUN_PATH = re.compile(r'sun_path="((?:\\x[0-9a-f]{2})*)"')
_PROCESS = frozenset({"clone", "clone3", "fork", "vfork"})
_PROC_FD = re.compile(r"^/proc/(?:self|\d+)/fd/(\d+)$")
# For each call that changes what it names: (descriptor argument or None, path argument) pairs.
_NAMED: dict[str, tuple[tuple[int | None, int], ...]] = {
    "creat": ((None, 0),),
    "mkdir": ((None, 0),),
    "mkdirat": ((0, 1),),
    "mknod": ((None, 0),),
    "mknodat": ((0, 1),),
    "rmdir": ((None, 0),),
    "unlink": ((None, 0),),
    "unlinkat": ((0, 1),),
    "rename": ((None, 0), (None, 1)),
    "renameat": ((0, 1), (2, 3)),
    "renameat2": ((0, 1), (2, 3)),
    "link": ((None, 1),),
    "linkat": ((2, 3),),
    "symlink": ((None, 1),),
    "symlinkat": ((1, 2),),
    "truncate": ((None, 0),),
    "chmod": ((None, 0),),
    "fchmodat": ((0, 1),),
    "fchmodat2": ((0, 1),),
    "chown": ((None, 0),),
    "lchown": ((None, 0),),
    "fchownat": ((0, 1),),
    "utime": ((None, 0),),
    "utimes": ((None, 0),),
    "utimensat": ((0, 1),),
    "futimesat": ((0, 1),),
    "setxattr": ((None, 0),),
    "lsetxattr": ((None, 0),),
    "removexattr": ((None, 0),),
    "lremovexattr": ((None, 0),),
}
_BY_FD = frozenset({"fchmod", "fchown", "ftruncate", "fallocate", "fsetxattr", "fremovexattr"})


@dataclass(frozen=True, slots=True)
class Write:
    """One change: the process, the call and the absolute path it changed."""

    pid: int
    call: str
    path: str


def traced(command: Sequence[str], trace: Path) -> list[str]:
    """``command`` under strace, its trace written to ``trace``."""
    return ["strace", *_OPTIONS, "-o", str(trace), *command]


def writes(trace: Path, cwd: Path) -> list[Write]:
    """Every change the trace of a tree started in ``cwd`` records."""
    calls = _calls(trace.read_text(errors="replace"))
    parents = {int(ret): (pid, index) for index, (pid, name, _args, ret, _path) in enumerate(calls) if name in _PROCESS}
    root = calls[0][0] if calls else 0
    cwd_of: dict[int, str] = {root: str(cwd)}
    at_clone: dict[tuple[int, int], str] = {}
    fds: dict[int, dict[str, str]] = {}
    found: list[Write] = []
    for index, (pid, name, args, ret, ret_path) in enumerate(calls):
        if pid not in cwd_of:
            cwd_of[pid] = at_clone.get(parents.get(pid, (root, -1)), str(cwd))
        for token in args:  # the kernel's own view of this process's working directory
            fd = _FD.match(token)
            if fd and fd.group(1) == "AT_FDCWD":
                cwd_of[pid] = _text(fd.group(2))
        if name in _PROCESS:
            at_clone[(pid, index)] = cwd_of[pid]
        if int(ret) < 0:
            continue
        if ret_path is not None:
            fds.setdefault(pid, {})[ret] = _text(ret_path)
        if name in {"chdir", "fchdir"}:
            cwd_of[pid] = _resolved(cwd_of[pid], args[0])
        for path in _changed(name, args, ret_path, cwd_of[pid]):
            through = _PROC_FD.match(path)
            found.append(Write(pid, name, fds.get(pid, {}).get(through.group(1), path) if through else path))
    return found


def _calls(text: str) -> list[tuple[int, str, list[str], str, str | None]]:
    """(pid, call, arguments, return value, path of a returned descriptor) of every finished call,
    an interrupted one joined with its resumption."""
    pending: dict[int, str] = {}
    calls = []
    for line in text.splitlines():
        pid, _, rest = line.partition(" ")
        rest = rest.lstrip()  # strace pads the pids to one width
        if rest.endswith("<unfinished ...>"):
            pending[int(pid)] = rest.removesuffix("<unfinished ...>").rstrip()
            continue
        resumed = re.match(r"^<\.\.\. \w+ resumed>(.*)$", rest)
        if resumed:
            head = pending.pop(int(pid), "")
            tail = resumed.group(1)
            rest = head + (tail if head.endswith("(") or tail.startswith(")") else ", " + tail.lstrip(", "))
        match = _LINE.match(f"{pid} {rest}")
        if match:
            args = _split(match.group(3))
            calls.append((int(match.group(1)), match.group(2), args, match.group(4), match.group(5)))
    return calls


def _split(args: str) -> list[str]:
    """Top-level arguments (strings are hex: no comma or bracket hides in them)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(args):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(args[start:index].strip())
            start = index + 1
    parts.append(args[start:].strip())
    return parts


def _changed(name: str, args: list[str], ret_path: str | None, cwd: str) -> list[str]:
    if name in {"open", "openat", "openat2"}:
        flags = args[1] if name == "open" else args[2]
        if not _WRITE_FLAGS.search(flags):
            return []
        return [_text(ret_path)] if ret_path is not None else [_at(args, 0 if name == "open" else 1, None, cwd)]
    if name in _BY_FD:
        fd = _FD.match(args[0])
        return [_text(fd.group(2))] if fd else []
    if name == "bind":
        sun = _SUN_PATH.search(args[1]) if len(args) > 1 else None
        return [_resolved(cwd, f'"{sun.group(1)}"')] if sun and sun.group(1) else []
    return [_at(args, path, fd, cwd) for fd, path in _NAMED.get(name, ())]


def _at(args: list[str], path: int, fd: int | None, cwd: str) -> str:
    """Argument ``path`` made absolute: against descriptor argument ``fd``, or the working directory."""
    base = cwd
    if fd is not None:
        match = _FD.match(args[fd])
        if match:
            base = _text(match.group(2))
    if args[path] == "NULL":  # utimensat(fd, NULL, ...): the descriptor itself
        return base
    return _resolved(base, args[path])


def _resolved(base: str, token: str) -> str:
    fd = _FD.match(token)
    if fd:
        return _text(fd.group(2))
    string = _STRING.match(token)
    name = _text(string.group(1)) if string else token
    return os.path.normpath(os.path.join(base, name))


def _text(hexed: str | None) -> str:
    """A hex-escaped strace string as text (undecodable bytes as surrogates, as os.fsdecode)."""
    return os.fsdecode(bytes.fromhex((hexed or "").replace("\\x", "")))
