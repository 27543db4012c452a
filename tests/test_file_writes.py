"""The strace reading of tests/file_writes.py sees every kind of change a process tree can make: the
hostile repository's proof (tests/test_hostile.py) is only as strong as this."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import unavailable
from tests.file_writes import traced, writes

_SCRIPT = textwrap.dedent(
    """
    import os, subprocess
    open("plain.txt", "w").write("x")
    os.mkdir("made")
    os.rename("plain.txt", "made/moved.txt")
    parent = os.open(".", os.O_RDONLY)
    os.mkdir("at", dir_fd=parent)
    os.chdir("at")
    open("\\x1b[2Kline\\nname.txt", "w").close()
    os.chmod("../made", 0o700, follow_symlinks=False)
    os.symlink("/etc/passwd", "link")
    subprocess.run(["touch", "by-child.txt"], check=True)
    os.unlink("by-child.txt")
    read = open("/etc/hostname")
    read.close()
    """
)


def test_every_kind_of_change_is_seen_with_its_absolute_path(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        unavailable("strace (infra/dev/test-setup installs it)", FileNotFoundError("strace"))
    work = tmp_path / "work"
    work.mkdir()
    trace = tmp_path / "trace.txt"
    subprocess.run(traced([sys.executable, "-c", _SCRIPT], trace), cwd=work, check=True, timeout=60)
    seen = {(write.call, write.path) for write in writes(trace, work)}
    at = work / "at"
    expected = {
        ("openat", str(work / "plain.txt")),
        ("mkdir", str(work / "made")),
        ("rename", str(work / "plain.txt")),
        ("rename", str(work / "made" / "moved.txt")),
        ("mkdirat", str(at)),
        ("openat", str(at / "\x1b[2Kline\nname.txt")),
        ("chmod", str(work / "made")),  # glibc: through /proc/self/fd/N of an O_PATH descriptor
        ("symlink", str(at / "link")),
        ("openat", str(at / "by-child.txt")),  # the child's, in the working directory it inherited
        ("unlink", str(at / "by-child.txt")),
    }
    assert expected <= seen, sorted(expected - seen)
    assert not any(path == "/etc/hostname" or path.startswith("/etc/passwd") for _call, path in seen)
