"""``parsefleet db url`` and ``parsefleet db shell``: the database in use, never its password."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from parsefleet.contract.settings import Settings
from tests.conftest import unavailable
from tests.reading.indexed import PARSEFLEET, cli, cli_env

pytestmark = pytest.mark.service


def _psql() -> str:
    found = shutil.which("psql")
    if found is None:
        unavailable("psql (Debian: postgresql-client)", OSError("not on PATH"))
    assert found is not None
    return found


def test_db_url_of_the_embedded_database_starts_it_and_names_its_passfile(embedded_data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    command = [*PARSEFLEET, "db", "url", "--data-dir", str(embedded_data_dir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("postgresql://") and query["passfile"] == [str(embedded_data_dir / "postgres" / "pgpass")]
    secret = (embedded_data_dir / "postgres" / "pgpass").read_text().strip().rsplit(":", 1)[1]
    assert secret and secret not in done.stdout + done.stderr


def test_db_url_never_prints_a_password(settings: Settings) -> None:
    assert settings.database_url
    params = parse_qs(urlsplit(settings.database_url).query)
    passfile = Path(params["passfile"][0])
    secret = passfile.read_text().strip().rsplit(":", 1)[1]
    with_password = settings.database_url.replace("postgres@", f"postgres:{secret}@", 1).replace(
        f"passfile={params['passfile'][0]}", "sslmode=disable"
    )
    env = {**cli_env(settings), "PARSEFLEET_DATABASE_URL": with_password}
    done = subprocess.run([*PARSEFLEET, "db", "url"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr and "postgres:***@" in done.stdout


def test_db_shell_runs_psql_with_the_password_out_of_its_command_line(settings: Settings) -> None:
    _psql()
    assert settings.database_url
    params = parse_qs(urlsplit(settings.database_url).query)
    secret = Path(params["passfile"][0]).read_text().strip().rsplit(":", 1)[1]
    with_password = settings.database_url.replace("postgres@", f"postgres:{secret}@", 1)
    with_password = with_password.replace(f"&passfile={params['passfile'][0]}", "")
    env = {**cli_env(settings), "PARSEFLEET_DATABASE_URL": with_password}
    script = "SELECT 'answer:' || count(*) FROM schema_migrations;\n\\! tr '\\0' ' ' </proc/$PPID/cmdline\n"
    done = subprocess.run(
        [*PARSEFLEET, "db", "shell"], env=env, input=script, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "answer:" in done.stdout
    cmdline = done.stdout.strip().splitlines()[-1]
    assert "psql" in cmdline and "user=postgres" in cmdline
    assert secret not in cmdline


def test_db_shell_without_psql_is_a_one_line_error(settings: Settings, tmp_path: Path) -> None:
    env = {**cli_env(settings), "PATH": str(tmp_path)}  # no psql there
    command = [sys.executable, "-m", "parsefleet.cli.main", "db", "shell"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "parsefleet: error: psql not found on PATH: install it (Debian: postgresql-client) or use `parsefleet db url`"
    ]
    assert cli(settings, "db", "url").returncode == 0
