"""Generated git repositories, CLI environments and resumed runs for the bulk tests (tests/test_bulk.py,
tests/test_resume.py, tests/test_resume_commits.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers

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


def resumed_with_a_worker(settings: Settings, env: dict[str, str], logs: Path, run_id: str) -> dict[str, Any]:
    """`parsefleet submit --resume RUN_ID --wait --json -` with one local worker running: its report."""
    assert settings.redis_url and settings.database_url
    fleet = LocalWorkers(settings.redis_url, settings.database_url, logs, count=1)
    fleet.start()
    try:
        resumed = subprocess.run(
            [sys.executable, "-m", "parsefleet.cli.main", "submit", "--resume", run_id, "--wait", "--no-progress",
             "--json", "-"],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        fleet.stop()
    assert resumed.returncode == 0, resumed.stderr
    report: dict[str, Any] = json.loads(resumed.stdout)
    return report


def assert_each_sent_once(database_url: str, run_id: str, sent: int) -> None:
    """The run sent ``sent`` files, each in exactly one batch result, and each batch was delivered once."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        totals = conn.execute(
            "SELECT (SELECT sum(sent) FROM run_inputs WHERE run_id = %(run)s),"
            "       (SELECT sum(files) FROM batch_results WHERE run_id = %(run)s),"
            "       (SELECT count(*) FROM batch_results WHERE run_id = %(run)s),"
            "       (SELECT batches_total FROM runs WHERE id = %(run)s),"
            "       (SELECT sum(deliveries) FROM batch_results WHERE run_id = %(run)s)",
            {"run": run_id},
        ).fetchone()
    assert totals is not None
    assert totals[0] == totals[1] == sent  # every file sent is in exactly one result
    assert totals[2] == totals[3] == totals[4]  # each batch delivered once
