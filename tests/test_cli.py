"""The CLI as a user runs it: real processes, one-line errors, named exit codes, no secrets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from parsefleet.cli.main import main
from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers
from tests.conftest import FIXTURES
from tests.services import wait_until

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]


def _run(
    args: list[str], env: dict[str, str] | None = None, timeout_s: float = 600
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    return subprocess.run(
        [*PARSEFLEET, *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.mark.parametrize("command", ["run", "submit", "worker", "status", "report", "db", "dead-letter"])
def test_every_command_has_help(command: str) -> None:
    done = _run([command, "--help"])
    assert done.returncode == 0
    assert "usage: parsefleet" in done.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "a worker needs PARSEFLEET_REDIS_URL and PARSEFLEET_DATABASE_URL"),
        ({"PARSEFLEET_REDIS_URL": "redis://:hunter2@127.0.0.1:1/x"}, "its database must be a number"),
    ],
)
def test_plain_celery_worker_without_usable_settings_is_a_one_line_error(env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "parsefleet.workers.app", "worker"],
        env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parsefleet worker: error: ") and message in lines[0], done.stderr
    assert "hunter2" not in done.stderr


def test_missing_target_is_a_one_line_error(tmp_path: Path) -> None:
    done = _run(["run", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "data")])
    assert done.returncode == 2
    assert done.stderr.strip() == f"parsefleet: error: {tmp_path / 'nope'}: no such file or directory"
    assert not (tmp_path / "data").exists()  # nothing started for a bad target


def test_directory_without_source_files_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    done = _run(["submit", str(tmp_path)])
    assert done.returncode == 2
    assert "no .py, .go or .rs file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["run", str(FIXTURES)], ["status"], ["db", "migrate"], ["report"]])
def test_unusable_data_directory_is_a_one_line_error(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "file").write_text("not a directory\n")
    done = _run([*command, "--data-dir", str(tmp_path / "file" / "data")])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"parsefleet: error: data directory {tmp_path / 'file' / 'data'}: Not a directory; "
        "set PARSEFLEET_DATA_DIR (or --data-dir) to one you can write"
    )


def test_unreachable_services_name_the_url_without_password(tmp_path: Path) -> None:
    env = {
        "PARSEFLEET_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0",
        "PARSEFLEET_DATABASE_URL": "postgresql://app:hunter2@127.0.0.1:1/parse",
    }
    done = _run(["submit", str(FIXTURES)], env=env)
    assert done.returncode == 3
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "postgresql://app:***@127.0.0.1:1/parse" in line
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.service
def test_unreachable_redis_is_named_after_postgres_answers(database_url: str) -> None:
    env = {"PARSEFLEET_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "PARSEFLEET_DATABASE_URL": database_url}
    done = _run(["status"], env=env)
    assert done.returncode == 3
    assert "redis://:***@127.0.0.1:1/0" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.service
@pytest.mark.slow
def test_embedded_main_job_then_nothing_to_do(tmp_path: Path, embedded_data_dir: Path) -> None:
    """`parsefleet run` with no URL set: embedded Redis and PostgreSQL, real workers, twice."""
    data = embedded_data_dir
    first = _run(["run", str(FIXTURES), "--data-dir", str(data), "--no-progress", "--json", str(tmp_path / "r1.json")])
    assert first.returncode == 0, first.stderr
    assert "python" in first.stdout and "go" in first.stdout and "rust" in first.stdout
    assert (data / "postgres" / "PG_VERSION").exists() and (data / "redis" / "appendonly.aof").exists()
    second = _run(["run", str(FIXTURES), "--data-dir", str(data), "--no-progress"])
    assert second.returncode == 0, second.stderr
    assert "nothing to parse" in second.stdout


@pytest.mark.service
def test_parsefleet_worker_command_processes_a_submitted_run(
    tmp_path: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = {"PARSEFLEET_REDIS_URL": redis_url, "PARSEFLEET_DATABASE_URL": clean_db}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    worker = subprocess.Popen(
        [*PARSEFLEET, "worker", "--", "--concurrency", "1", "--without-gossip", "--without-mingle"],
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        repo = tmp_path / "r"
        repo.mkdir()
        (repo / "m.py").write_text("class K:\n    def m(self):\n        pass\n")
        done = _run(["submit", str(repo), "--wait", "--no-progress", "--json", "-"], env=env)
        assert done.returncode == 0, done.stderr
        assert '"parsed": 1' in done.stdout
    finally:
        worker.terminate()
        assert worker.wait(timeout=60) == 0


@pytest.mark.service
def test_commands_are_recorded_in_cli_runs_and_statsd(
    redis_url: str, clean_redis: object, clean_db: str, statsd_server: socket.socket
) -> None:
    host, port = statsd_server.getsockname()
    env = {
        "PARSEFLEET_REDIS_URL": redis_url,
        "PARSEFLEET_DATABASE_URL": clean_db,
        "PARSEFLEET_STATSD_ADDR": f"{host}:{port}",
    }
    assert _run(["flag", "set", "100"], env=env).returncode == 0  # Step 2: every command gets its timer
    assert _run(["status"], env={**env, "CI": "true"}).returncode == 0
    assert _run(["report", "00000000-0000-0000-0000-000000000000"], env={**env, "CI": "true"}).returncode == 2
    packets = [statsd_server.recv(65536).decode() for _ in range(2)]
    assert all(p.startswith("cli_cmd_duration_ms:") and "|ms|#" in p for p in packets)
    assert any("command:report" in p and "exit_code:2" in p for p in packets)
    with psycopg.connect(clean_db) as conn:
        rows = conn.execute("SELECT command, exit_code, ci, step2 FROM cli_runs ORDER BY time").fetchall()
    assert rows == [("status", 0, True, True), ("report", 2, True, True)]


@pytest.mark.parametrize("password", ["pa?ss#w0rd", "p#ss?w0rd"])
def test_passwords_with_url_separators_are_not_printed(password: str, tmp_path: Path) -> None:
    """libpq accepts '?' and '#' unencoded in a password; the CLI's error must not show any of it."""
    env = {
        "PARSEFLEET_REDIS_URL": "redis://127.0.0.1:1/0",
        "PARSEFLEET_DATABASE_URL": f"postgresql://app:{password}@127.0.0.1:1/parse",
    }
    done = _run(["status"], env=env)
    assert done.returncode == 3, done.stderr
    assert "w0rd" not in done.stderr + done.stdout and "ss#" not in done.stderr and "ss?" not in done.stderr
    assert "127.0.0.1" in done.stderr


@pytest.mark.service
def test_a_worker_retrying_a_database_never_logs_its_password(
    tmp_path: Path, settings: Settings, statsd_server: socket.socket
) -> None:
    """A worker whose database refuses its password retries the batch; its log never shows it."""
    assert settings.database_url
    wrong = settings.database_url.replace("postgresql://postgres@", "postgresql://postgres:wr%3Fng?pw#x9z@", 1)
    assert wrong != settings.database_url
    fleet = LocalWorkers(settings.redis_url or "", wrong, tmp_path / "logs", env={"PARSEFLEET_LOG_LEVEL": "INFO"})
    fleet.start()
    try:
        done = _run(["submit", str(FIXTURES)], env={
            "PARSEFLEET_REDIS_URL": settings.redis_url or "", "PARSEFLEET_DATABASE_URL": settings.database_url,
        })  # fmt: skip
        assert done.returncode == 0, done.stderr
        log = tmp_path / "logs" / "worker-0.log"
        wait_until(lambda: log.exists() and "store unavailable, retry" in log.read_text(), "a retry logged", 120)
    finally:
        fleet.stop()
    text = log.read_text()
    assert "pw#x9z" not in text and "x9z" not in text and "wr%3Fng" not in text and "wr?ng" not in text


@pytest.mark.service
def test_a_reader_that_goes_away_early_gets_no_traceback(
    tmp_path: Path, settings: Settings, worker: LocalWorkers
) -> None:
    """`parsefleet tags R | true`: the reader is gone before the CLI writes."""
    repo = tmp_path / "big"
    repo.mkdir()
    (repo / "many.py").write_text("".join(f"def function_number_{n}(x):\n    return x\n" for n in range(4000)))
    env = {"PARSEFLEET_REDIS_URL": settings.redis_url or "", "PARSEFLEET_DATABASE_URL": settings.database_url or ""}
    assert _run(["submit", str(repo), "--wait", "--no-progress"], env=env).returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    reader = subprocess.Popen(
        [*PARSEFLEET, "tags", str(repo)], env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()
    errors = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141, errors
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors


def test_a_command_run_in_process_leaves_the_umask_and_the_signal_handlers_as_they_were(
    capsys: pytest.CaptureFixture[str],
) -> None:
    umask = os.umask(0o022)
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handlers = {signum: signal.getsignal(signum) for signum in signals}
    try:
        assert main(["config"]) == 0
        assert "PARSEFLEET_" in capsys.readouterr().out
        assert os.umask(0o022) == 0o022  # what it was before the command, not the command's 077
        assert {signum: signal.getsignal(signum) for signum in signals} == handlers
    finally:
        os.umask(umask)
