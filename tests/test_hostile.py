"""Hostile input through the real pipeline: every file parsed or a named failure, caps held."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from parsefleet.contract.paths import to_text
from parsefleet.contract.settings import Settings
from parsefleet.reading.report import RunReport, load_report
from tests.accounting import WorkerTreePeak, probed_run
from tests.conftest import unavailable
from tests.file_writes import Write, traced, writes

pytestmark = [pytest.mark.service, pytest.mark.slow]

_WORKER_CAP_MB = 512
_MAX_FILE_BYTES = 16 * 1024 * 1024
# Workers accept the batches of producers whose settings are no larger than theirs.
_WORKER_ENV = {"PARSEFLEET_MAX_FILE_BYTES": str(_MAX_FILE_BYTES)}
_RUN_TIMEOUT_S = 240


def _hostile_tree(root: Path) -> dict[str, str]:
    """Write the files; return what each name must end as (a status or a failure/skip kind)."""
    root.mkdir()
    files: dict[str, bytes] = {
        "binary.py": bytes(range(256)) * 64,
        "binary.go": os.urandom(20_000),
        "invalid utf8.rs": b'fn f() { let s = "\xff\xfe\xfd"; }\n',
        "utf16.py": "def f():\n    return 1\n".encode("utf-16"),
        "one huge line.py": b"x = [" + b"1," * 5_000_000 + b"]\n",
        "deep.py": b"x = " + b"(" * 50_000 + b"1" + b")" * 50_000 + b"\n",
        "unterminated.rs": b'fn f() { let s = "' * 20_000,
        "unterminated.go": b"package p\nfunc f() {\n" + b"if x {\n" * 20_000,
        "-leading-dash.py": b"def dash():\n    pass\n",
        "$(rm -rf ~);`x`&|.py": b"def meta():\n    pass\n",
        "ünïcødé 名前.go": b"package p\n\nfunc Unicode() {}\n",
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
    (root / "fifty.py").write_bytes(b"# " + b"x" * (50 * 1024 * 1024) + b"\n")
    os.mkfifo(root / "x.py")
    (root / "zero.py").symlink_to("/dev/zero")
    (root / "passwd.go").symlink_to("/etc/passwd")
    (root / "slash.rs").symlink_to("/")
    (root / "loop.py").symlink_to(root / "loop.py")
    return {
        "fifty.py": "too-large",
        "x.py": "not-regular",
        "zero.py": "symlink",
        "passwd.go": "symlink",
        "slash.rs": "symlink",
        "loop.py": "symlink",
        "one huge line.py": "memory",
    }


def test_hostile_repository_completes_with_every_file_accounted_and_caps_held(
    settings: Settings, tmp_path: Path
) -> None:
    repo = tmp_path / "hostile"
    expected = _hostile_tree(repo)
    settings = Settings.from_env(
        {}, redis_url=settings.redis_url, database_url=settings.database_url, data_dir=settings.data_dir,
        max_file_bytes=_MAX_FILE_BYTES,
    )  # fmt: skip
    report, probe = probed_run(settings, repo, tmp_path / "logs", env=_WORKER_ENV, interval_s=0.02)
    assert report.state.finished
    for item in report.languages:
        assert item.accounted, item
    seen = sum(item.seen for item in report.languages)
    assert seen == len(list(repo.iterdir()))
    failures = {Path(path).name: kind for _lang, kind, path, _msg in report.failed_files}
    skips = {reason for item in report.languages for reason in item.skipped}
    for name, outcome in expected.items():
        assert failures.get(name) == outcome or outcome in skips, (name, outcome, failures, skips)
    assert all(kind in {"memory", "timeout", "too-large", "recursion"} for kind in failures.values()), failures
    peak = max(probe.peak_rss_mb.values())
    print(f"hostile: {seen} files, failures {failures}, skips {sorted(skips)}, peak worker RSS {peak:.0f} MB")
    assert peak < _WORKER_CAP_MB, f"worker peaked at {peak:.0f} MB"


_STEERING_NAMES = ("\x1b[1A\x1b[2Kesc.py", "carriage\rreturn.py", "line\nfeed.go")


def _tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (nanoseconds), links not followed."""
    state = {}
    for path in root.rglob("*"):
        info = path.lstat()
        state[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return state


def _git(root: Path, *args: str) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def test_a_hostile_git_repository_runs_nothing_and_nothing_is_written_outside_the_data_directory(
    settings: Settings, tmp_path: Path, embedded_data_dir: Path
) -> None:
    """``parsefleet run`` (producer and local workers) over the hostile git repository, under strace:
    every path the whole process tree created, opened for writing, renamed, linked, removed or
    changed the attributes of lies in the data directory or /dev."""
    repo = tmp_path / "hostile"
    expected = _hostile_tree(repo)
    for name in _STEERING_NAMES:
        (repo / name).write_bytes(b"package p\n" if name.endswith(".go") else b"def steer():\n    pass\n")
    deep = repo.joinpath(*["d"] * 120)
    deep.mkdir(parents=True)
    (deep / "deep.py").write_bytes(b"def deepest():\n    pass\n")
    marker = tmp_path / "PWNED"
    _git(repo, "init", "-q")
    for key, value in (
        ("core.fsmonitor", f"touch {marker}; echo"),
        ("core.hooksPath", str(tmp_path / "hooks")),
        ("diff.external", f"touch {marker}"),
        ("filter.evil.clean", f"touch {marker}"),
        ("core.sshCommand", f"touch {marker}"),
    ):
        _git(repo, "config", key, value)
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    before = _tree_state(repo)
    settings = replace(settings, data_dir=embedded_data_dir)  # one the service account can reach under root
    report, changed, peak = _traced_run(settings, repo, tmp_path)
    assert report.state.finished
    for item in report.languages:
        assert item.accounted, item
    failures = {Path(path).name: kind for _lang, kind, path, _msg in report.failed_files}
    skips = {reason for item in report.languages for reason in item.skipped}
    for name, outcome in expected.items():
        if name != "x.py":  # git lists no fifo
            assert failures.get(name) == outcome or outcome in skips, (name, outcome, failures, skips)
    assert all(kind in {"memory", "timeout", "too-large", "recursion"} for kind in failures.values()), failures
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        stored = {str(row[0]) for row in conn.execute("SELECT path FROM files")}
    assert {to_text(name.encode()) for name in _STEERING_NAMES} <= stored
    assert "/".join(["d"] * 120) + "/deep.py" in stored
    assert not marker.exists(), "the repository's git configuration ran a program"
    data_dir = str(settings.data_dir)
    assert any(write.path.startswith(data_dir + "/") for write in changed), "the trace saw no write at all"
    outside = sorted({f"{write.call} {write.path}" for write in changed if not _allowed(write.path, data_dir)})
    assert outside == [], "written outside the data directory:\n" + "\n".join(outside)
    assert _tree_state(repo) == before, "the repository changed"
    print(
        f"hostile git repository: failures {failures}, skips {sorted(skips)}, peak worker RSS {peak:.0f} MB,"
        f" {len(changed)} writes traced, all in the data directory or /dev"
    )
    assert peak < _WORKER_CAP_MB, f"worker peaked at {peak:.0f} MB"


def _allowed(path: str, data_dir: str) -> bool:
    return path == data_dir or path.startswith((data_dir + "/", "/dev/"))


def _traced_run(settings: Settings, repo: Path, tmp_path: Path) -> tuple[RunReport, list[Write], float]:
    """``parsefleet run`` over ``repo`` (the session's Redis and PostgreSQL, its own data directory)
    under strace, with a private, empty HOME and TMPDIR; its report, what it changed on the
    filesystem and its workers' peak RSS. Python writes no bytecode cache (the interpreter's, not
    parsefleet's: it would land beside parsefleet's own modules)."""
    assert settings.redis_url and settings.database_url and settings.data_dir
    if shutil.which("strace") is None:
        unavailable("strace (infra/dev/test-setup installs it)", FileNotFoundError("strace"))
    private = Path(tempfile.mkdtemp(prefix="parsefleet-private-"))
    home, tmp, cwd = private / "home", private / "tmp", private / "cwd"
    for directory in (private, home, tmp, cwd):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o777)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp),
        "PYTHONDONTWRITEBYTECODE": "1", "PARSEFLEET_REDIS_URL": settings.redis_url,
        "PARSEFLEET_DATABASE_URL": settings.database_url, "PARSEFLEET_DATA_DIR": str(settings.data_dir),
        **_WORKER_ENV,
    }  # fmt: skip
    trace = tmp_path / "strace.txt"
    command = [sys.executable, "-P", "-m", "parsefleet.cli.main", "run", "--no-progress", "--json", "-", str(repo)]
    try:
        process = subprocess.Popen(
            traced(command, trace), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        peak = WorkerTreePeak(process.pid)
        peak.start()
        try:
            out, err = process.communicate(timeout=_RUN_TIMEOUT_S)
        finally:
            peak.stop()
        left = sorted(str(path.relative_to(private)) for path in private.rglob("*") if path not in (home, tmp, cwd))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    assert process.returncode == 0, err.decode(errors="replace")
    assert left == [], f"written in HOME, TMPDIR or the working directory: {left}"
    with psycopg.connect(settings.database_url) as conn:
        report = load_report(conn, str(json.loads(out)["run_id"]))
    return report, writes(trace, cwd), peak.peak_mb
