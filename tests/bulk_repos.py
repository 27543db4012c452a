"""Generated git repositories and CLI environments for the bulk tests (tests/test_bulk.py, tests/test_resume.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from parsefleet.contract.settings import Settings

_GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}


def _git(cwd: Path, *args: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), **_GIT_ENV}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def small_repositories(root: Path, count: int) -> list[Path]:
    """``count`` git repositories: one committed file common to all (a duplicate blob after the
    first) and two of their own, not yet committed (git lists them as untracked)."""
    template = root / "template"
    template.mkdir(parents=True)
    _git(template, "init", "-q", "--template=")
    (template / "common.py").write_text("def shared():\n    return 0\n")
    _git(template, "add", "common.py")
    _git(template, "commit", "-q", "-m", "common")
    repositories = []
    for index in range(count):
        repository = root / f"r{index:04d}"
        shutil.copytree(template, repository, symlinks=True)
        (repository / "own.py").write_text(f"def own_{index}(x):\n    return x + {index}\n")
        (repository / "lib.go").write_text(f"package lib\n\nfunc Lib{index}() int {{ return {index} }}\n")
        repositories.append(repository)
    shutil.rmtree(template)
    return repositories


def cli_env(settings: Settings) -> dict[str, str]:
    assert settings.redis_url and settings.database_url
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    return {**clean, "PARSEFLEET_REDIS_URL": settings.redis_url, "PARSEFLEET_DATABASE_URL": settings.database_url}
