"""No open doors on a shared machine: what parsefleet creates is private, its embedded services are
reachable by their owner only, and under root the workers parse as an unprivileged account.

Runs the installed wheel (a venv any account can read), as root and as an ordinary user, and
probes as a third account (``nobody``) while the services are up.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from parsefleet.services.account import service_account
from parsefleet.services.endpoints import Services
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

_TESTER = "pftester"
_PROBE = (
    "import socket, sys\n"
    "for path in sys.argv[1:]:\n"
    "    s = socket.socket(socket.AF_UNIX)\n"
    "    try:\n"
    "        s.connect(path); print('CONNECTED', path)\n"
    "    except OSError as e:\n"
    "        print('refused', path, e.errno)\n"
)


def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: it runs parsefleet as root and as another user, and probes as a third")


def _repo(root: Path, files: int = 400) -> Path:
    for index in range(files):
        (root / f"pkg{index % 10}").mkdir(parents=True, exist_ok=True)
        body = "".join(f"def f{index}_{n}(x):\n    return x * {n}\n" for n in range(120))
        (root / f"pkg{index % 10}" / f"m{index}.py").write_text(body)
    return root


def _as(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, check=False)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSEFLEET_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


def _uid_of(pid: int) -> tuple[int, str]:
    """(effective uid, supplementary groups) of a process."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = int(next(line for line in status if line.startswith("Uid:")).split()[2])
    groups = next(line for line in status if line.startswith("Groups:")).partition(":")[2].strip()
    return uid, groups


def _workers_in(log_dir: Path) -> list[int]:
    """Processes whose working directory is ``log_dir``: the run's local workers and their children."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / "cwd") == str(log_dir):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _probe_as_nobody(data_dir: Path, python: str) -> list[str]:
    """What ``nobody`` can do with the data directory while the services run."""
    sockets = [str(data_dir / "redis" / "redis.sock"), str(data_dir / "postgres" / ".s.PGSQL.5432")]
    done = _as("nobody", python, "-c", _PROBE, *sockets)
    problems = [line for line in done.stdout.splitlines() if line.startswith("CONNECTED")]
    for target in (data_dir, data_dir / "redis", data_dir / "postgres", data_dir / "logs"):
        if _as("nobody", "ls", str(target)).returncode == 0:
            problems.append(f"nobody can list {target}")
    for found in data_dir.rglob("*"):
        if found.is_file() and _as("nobody", "head", "-c", "1", str(found)).returncode == 0:
            problems.append(f"nobody can read {found}")
    return problems


def _loose_modes(data_dir: Path) -> list[str]:
    """Entries of the data directory that another user could read, list or enter."""
    loose = []
    for found in [data_dir, *data_dir.rglob("*")]:
        mode = found.lstat().st_mode
        if stat.S_ISSOCK(mode):
            continue  # a socket's own mode matters less than its directory's; both are checked by probing
        allowed = 0o010 if found == data_dir and os.geteuid() == 0 else 0  # the service group may enter
        if mode & 0o077 & ~allowed:
            loose.append(f"{found} {stat.filemode(mode)}")
    return loose


@pytest.fixture
def tester() -> Iterator[pwd.struct_passwd]:
    """An ordinary local user with a home of its own (created for the test when missing)."""
    _root_only()
    created = False
    try:
        entry = pwd.getpwnam(_TESTER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", _TESTER], check=True, capture_output=True)
        entry, created = pwd.getpwnam(_TESTER), True
    yield entry
    if created:
        subprocess.run(["userdel", "--remove", _TESTER], capture_output=True, check=False)


def test_as_root_the_workers_parse_as_the_service_account_and_nobody_gets_in(
    installed: Path, tmp_path: Path, embedded_data_dir: Path
) -> None:
    _root_only()
    parent = embedded_data_dir.parent / f"{embedded_data_dir.name}-parent"
    parent.mkdir(mode=0o711)
    data_dir = parent / "data"
    repo = _repo(tmp_path / "repo")
    run = subprocess.Popen(
        [str(installed / "parsefleet"), "run", str(repo), "--no-progress"],
        env=_clean_env(PARSEFLEET_DATA_DIR=str(data_dir), PARSEFLEET_BATCH_MAX_BYTES="16384"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: bool(_workers_in(data_dir / "logs")) or run.poll() is not None, "local workers", 120)
        run.send_signal(signal.SIGSTOP)  # hold the run while it is probed; its workers and services go on
        account = service_account("parsefleet")
        owners = {pid: _uid_of(pid) for pid in _workers_in(data_dir / "logs")}
        problems = _probe_as_nobody(data_dir, str(installed / "python"))
    finally:
        run.send_signal(signal.SIGCONT)
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert owners and all(uid == account.uid for uid, _groups in owners.values()), owners
    assert all(groups in ("", str(account.gid)) for _uid, groups in owners.values()), owners
    assert f"as {account.name}" in err and "run as root" not in err
    assert problems == []
    assert _loose_modes(data_dir) == []
    assert stat.S_IMODE(parent.stat().st_mode) == 0o711  # a parent it did not create is left as it was
    shutil.rmtree(parent, ignore_errors=True)


def test_as_an_ordinary_user_everything_stays_private(installed: Path, tester: pwd.struct_passwd) -> None:
    home = Path(tester.pw_dir)
    mode_before = stat.S_IMODE(home.stat().st_mode)
    repo = home / "repo"
    _as(_TESTER, "mkdir", "-p", str(repo))
    _as(_TESTER, "sh", "-c", f"for i in 1 2 3; do printf 'def f%s():\\n    return 1\\n' $i > {repo}/m$i.py; done")
    data_dir = home / ".local" / "share" / "parsefleet"  # the default data directory
    run = subprocess.Popen(
        ["runuser", "-u", _TESTER, "--", str(installed / "parsefleet"), "run", str(repo), "--no-progress"],
        env=_clean_env(HOME=str(home)),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: bool(_workers_in(data_dir / "logs")) or run.poll() is not None, "local workers", 120)
        run.send_signal(signal.SIGSTOP)
        problems = _probe_as_nobody(data_dir, str(installed / "python"))
    finally:
        run.send_signal(signal.SIGCONT)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert "python" in out
    assert problems == []
    assert _loose_modes(data_dir) == []
    assert stat.S_IMODE(home.stat().st_mode) == mode_before
    assert stat.S_IMODE((home / ".local").stat().st_mode) == 0o700  # created by parsefleet on the way


def test_the_embedded_postgresql_wants_its_password_even_from_its_owner(embedded_services: Services) -> None:
    """No trust authentication: without the passfile the owner's own connection is refused."""
    url = embedded_services.database_url
    assert "passfile=" in url and ":" not in url.split("://", 1)[1].split("@", 1)[0]  # no secret in the URL
    psycopg.connect(url, connect_timeout=5).close()
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(url, connect_timeout=5, passfile="/dev/null").close()
