"""Hostile input through the real pipeline: every file parsed or a named failure, caps held."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parsefleet.contract.settings import Settings
from tests.accounting import probed_run

pytestmark = [pytest.mark.service, pytest.mark.slow]

_WORKER_CAP_MB = 512


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
        max_file_bytes=16 * 1024 * 1024,
    )  # fmt: skip
    report, probe = probed_run(settings, repo, tmp_path / "logs", interval_s=0.02)
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
