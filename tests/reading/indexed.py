"""Repositories indexed by a real run (real worker processes), and the CLI run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from parsefleet.cli import commands
from parsefleet.contract.languages import language_for
from parsefleet.contract.outline import Outline
from parsefleet.contract.settings import Settings
from parsefleet.reading.report import RunReport
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.limits import ParseBudget

__all__ = ["cli", "cli_env", "expected_outline", "index"]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]


def index(settings: Settings, *repos: Path) -> RunReport:
    """Submit ``repos`` to the running worker and wait for the run."""
    report = commands.submit(settings, list(repos), commands.RunOptions(ci=False, progress=False, wait=True))
    assert report.state.finished
    return report


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment of a CLI process on the test's Redis and PostgreSQL."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    assert settings.redis_url and settings.database_url
    return {
        **clean,
        "PARSEFLEET_REDIS_URL": settings.redis_url,
        "PARSEFLEET_DATABASE_URL": settings.database_url,
        "PARSEFLEET_DATA_DIR": str(settings.data_dir),
    }


def cli(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``parsefleet ARGS`` in a process of its own."""
    command = [*PARSEFLEET, *args]
    env = cli_env(settings)
    return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False)


def expected_outline(path: Path) -> Outline:
    """What the language's adapter outlines for ``path`` (what the store must hold)."""
    language = language_for(path)
    assert language is not None
    return adapter_for(language).outline(path.read_bytes(), ParseBudget(30.0))
