"""The built wheel, installed as a user would: a fresh virtual environment outside the repository.

One import root (``parsefleet``), the schema inside it, and a working directory that holds
packages of its own (``workers/``, ``producer/``, ``common/``, even ``parsefleet/``) changes
nothing: the CLI, its local workers and ``parsefleet worker`` import only the installed package.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.services import wait_until

_HIJACK = "import pathlib\npathlib.Path(__file__).with_name('IMPORTED').write_text({name!r})\nraise SystemExit(9)\n"

pytestmark = [pytest.mark.slow]


@pytest.fixture
def hostile_cwd(tmp_path: Path) -> Path:
    """A directory (the default target of `parsefleet run`) holding packages named like ours."""
    cwd = tmp_path / "project"
    for package in ("workers", "producer", "common", "parsefleet", "celery"):
        (cwd / package).mkdir(parents=True)
        (cwd / package / "__init__.py").write_text(_HIJACK.format(name=package))
    (cwd / "app.py").write_text("class App:\n    def run(self):\n        return 1\n")
    return cwd


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PARSEFLEET_", "PYTHON", "VIRTUAL_ENV"))}
    return {**clean, **extra}


def _hijacked(cwd: Path) -> list[str]:
    return sorted(str(marker.relative_to(cwd)) for marker in cwd.rglob("IMPORTED"))


def test_the_wheel_installs_one_import_root_with_its_schema(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    roots = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert roots == {"parsefleet"}
    assert "parsefleet/schema/001_core.sql" in names
    assert "parsefleet/workers/languages/queries/python.scm" in names
    assert not any("tests/" in name for name in names)


def test_migrate_and_run_from_a_directory_with_packages_of_its_own(
    installed: Path, hostile_cwd: Path, embedded_data_dir: Path
) -> None:
    """`db migrate` and `run` on the embedded default, from the wheel, in the directory they target."""
    env = _env(PARSEFLEET_DATA_DIR=str(embedded_data_dir))
    parsefleet = str(installed / "parsefleet")
    migrated = subprocess.run(
        [parsefleet, "db", "migrate"],
        cwd=hostile_cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "001_core.sql" in migrated.stdout
    ran = subprocess.run(
        [parsefleet, "run", "--no-progress", "--json", "-"],
        cwd=hostile_cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert '"parsed": 6' in ran.stdout  # app.py and the five __init__.py files, parsed, never imported
    assert _hijacked(hostile_cwd) == []


def test_parsefleet_worker_from_the_wheel_parses_a_submitted_run(
    installed: Path, hostile_cwd: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = _env(PARSEFLEET_REDIS_URL=redis_url, PARSEFLEET_DATABASE_URL=clean_db)
    worker = subprocess.Popen(
        [str(installed / "parsefleet"), "worker", "--", "--concurrency", "1", "--without-gossip", "--without-mingle"],
        cwd=hostile_cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        submitted = subprocess.run(
            [str(installed / "parsefleet"), "submit", str(FIXTURES), "--wait", "--no-progress", "--json", "-"],
            cwd=hostile_cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert submitted.returncode == 0, submitted.stderr
        assert '"finished": true' in submitted.stdout
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=60)
    assert worker.returncode == 0, errors
    assert _hijacked(hostile_cwd) == []


def test_plain_celery_worker_from_the_wheel_builds_the_app_from_the_environment(
    installed: Path, tmp_path: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = _env(PARSEFLEET_REDIS_URL=redis_url, PARSEFLEET_DATABASE_URL=clean_db)
    worker = subprocess.Popen(
        [str(installed / "celery"), "-A", "parsefleet.workers.app", "worker", "--concurrency", "1", "-Q",
         "parsefleet.python", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert worker.stdout is not None

        def ready() -> bool:
            lines.append(worker.stdout.readline() if worker.stdout else "")
            return any("ready." in line for line in lines) or worker.poll() is not None

        wait_until(ready, "the celery worker's ready line", 120)
        assert worker.poll() is None, "".join(lines)
        assert any("parsefleet.parse_batch" in line for line in lines), "".join(lines)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
