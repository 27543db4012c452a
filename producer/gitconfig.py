"""A repository's own configuration file, read without starting git when it is plain.

Every repository parsefleet lists has its configuration read first (``Git.neutralise``: the
programs it names are made inert, ``remote.origin.url`` is kept). ``git config --list`` costs a
process, about 1.9 ms of CPU (1.4 ms of git, 0.4 ms of the producer's own spawning), as much as
the listing itself: on a thousand small repositories, a third of the producer's CPU. Most
repositories' files are what ``git init`` and ``git clone`` write: a few sections, keys and plain
values. ``plain_entries`` reads exactly that subset and declines everything else, so that git
reads it as before:

- a file that is missing, a symbolic link, not a regular file, larger than ``CONFIG_MAX_BYTES``;
- a git directory that is not plainly a repository by git's own test (``objects/`` and ``refs/``
  directories, ``HEAD`` a ref or an object id), or one whose ``commondir`` points elsewhere;
- ``include`` and ``includeIf`` (other files), ``extensions`` and a repository format other than
  0 (git may refuse the repository), ``[section.sub]`` headers (the old syntax);
- any byte git reads with rules of its own: a quote, a backslash (escapes, continued lines), a tab
  or carriage return inside a value, a byte-order mark, a non-ASCII key or section, anything after
  a section header but a comment, a key not followed by ``=`` or the end of the line.

What it accepts it reads as git does (``tests/producer/test_gitconfig.py`` compares the two on
generated files, each read by both): section and key lower-cased, the subsection as written, the
value cut at ``#`` or ``;``, spaces around it dropped, a key without ``=`` a value-less boolean.
The environment parsefleet gives git reads no system or user configuration, so the repository's
file is all of it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

__all__ = ["CONFIG_MAX_BYTES", "plain_entries"]

CONFIG_MAX_BYTES = 64 * 1024
_SECTION = re.compile(rb'[ \t]*\[([A-Za-z0-9-]+)(?: +"([^"\\\n\r\t]*)")?\][ \t]*(?:[#;][^\n]*)?')
_KEY = re.compile(rb"[ \t]*([A-Za-z][A-Za-z0-9-]*) *(?:=([^\n]*))?")
_COMMENT_OR_BLANK = re.compile(rb"[ \t]*(?:[#;][^\n]*)?")
_VALUE_DECLINED = re.compile(rb'["\\\t\r]')
_VALUE_END = re.compile(rb"[#;]")
_SYMBOLIC_HEAD = re.compile(rb"ref: refs/[^\0\n]*\n?")
_OBJECT_HEAD = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64})\n?")
_DECLINED_SECTIONS = frozenset({b"include", b"includeif", b"extensions"})


def plain_entries(git_dir: Path) -> list[tuple[bytes, bytes | None]] | None:
    """The entries of ``git_dir``'s configuration as ``git config --list`` gives them (name, value;
    None for a key without ``=``), in order; None when git must read it (see the module)."""
    if not _plainly_a_repository(git_dir):
        return None
    data = _read_regular(git_dir / "config")
    if data is None or data.startswith(b"\xef\xbb\xbf") or b"\0" in data:
        return None
    entries = _parse(data)
    if entries is None or not _format_zero(entries):
        return None
    return entries


def _parse(data: bytes) -> list[tuple[bytes, bytes | None]] | None:
    entries: list[tuple[bytes, bytes | None]] = []
    section: bytes | None = None
    for line in data.split(b"\n"):
        if _COMMENT_OR_BLANK.fullmatch(line):
            continue
        header = _SECTION.fullmatch(line)
        if header is not None:
            name = header[1].lower()
            if name in _DECLINED_SECTIONS:
                return None
            section = name if header[2] is None else name + b"." + header[2]
            continue
        entry = _KEY.fullmatch(line)
        if entry is None or section is None:
            return None
        value = _value(entry[2])
        if value is not None and _VALUE_DECLINED.search(value):  # a comment is read by no rule
            return None
        entries.append((section + b"." + entry[1].lower(), value))
    return entries


def _value(raw: bytes | None) -> bytes | None:
    """A value as git reads it (None: a key without ``=``): cut at a comment, spaces around it dropped."""
    if raw is None:
        return None
    cut = _VALUE_END.search(raw)
    return (raw if cut is None else raw[: cut.start()]).strip(b" ")


def _format_zero(entries: list[tuple[bytes, bytes | None]]) -> bool:
    versions = [value for name, value in entries if name == b"core.repositoryformatversion"]
    return all(value == b"0" for value in versions)


def _plainly_a_repository(git_dir: Path) -> bool:
    """The plain form of git's ``is_git_directory``: ``objects/`` and ``refs/`` directories, no
    ``commondir``, ``HEAD`` a regular file naming a ref under ``refs/`` or holding an object id."""
    try:
        if not all(stat.S_ISDIR(os.lstat(git_dir / name).st_mode) for name in ("objects", "refs")):
            return False
    except OSError:
        return False
    if os.path.lexists(git_dir / "commondir"):
        return False
    head = _read_regular(git_dir / "HEAD")
    return head is not None and bool(_SYMBOLIC_HEAD.fullmatch(head) or _OBJECT_HEAD.fullmatch(head))


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file of at most ``CONFIG_MAX_BYTES``, never through a symbolic link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > CONFIG_MAX_BYTES:
            return None
        data = b""
        while len(data) <= CONFIG_MAX_BYTES and (chunk := os.read(fd, CONFIG_MAX_BYTES + 1 - len(data))):
            data += chunk  # a read may return less than asked (a network or FUSE file system)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= CONFIG_MAX_BYTES else None
