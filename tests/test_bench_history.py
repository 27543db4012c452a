"""``parsefleet bench --profile history`` on a small history built here, through real processes:
every modified version outlined incrementally equals its full parse, and history mode ran."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from parsefleet.bench.incremental import render, run_history
from parsefleet.contract.settings import Settings

pytestmark = pytest.mark.service

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *_IDENTITY, "-C", str(root), *args], capture_output=True, check=True, timeout=60)


def test_incremental_outlines_equal_full_ones_on_every_version(settings: Settings, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    body = "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(40))
    versions = [
        body,
        body.replace("def f7(x):", "def renamed_seven(x):"),
        "import os\n\n" + body.replace("def f7(x):", "def renamed_seven(x):") + "class Late:\n    pass\n",
        body[: len(body) // 2],  # half the file removed
    ]
    for number, text in enumerate(versions):
        (repo / "m.py").write_text(text)
        (repo / "g.go").write_text(f"package g\n\nfunc G{number}() {{}}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"v{number}")
    result = run_history(settings, repo, commits=3)
    assert result.commits == 3
    assert {lang: item.versions for lang, item in result.languages.items()} == {"python": 3, "go": 3}
    assert result.all_equal
    assert result.history_files == 2 + 2 + 2  # the first commit's two files, then each commit's two
    assert sorted(result.history_runs_s) == ["off", "on"]  # history mode with re-parsing and without
    assert len(result.history_runs_s["on"]) == len(result.history_runs_s["off"]) == 2
    assert "re-parsing off" in render(result)
    assert "outlines equal 3/3" in render(result)
