"""Runs that end cleanly, whatever ends them: signals, `parsefleet cancel`, workers that are not there,
and several processes sharing one data directory. Real CLI processes, real embedded services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.names import OUTBOX_KEY, QUEUES
from parsefleet.services.account import service_account
from parsefleet.services.embedded_postgres import EmbeddedPostgres
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}, **extra}


def _cli(args: list[str], env: dict[str, str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PARSEFLEET, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False)


def _big_repo(root: Path, files: int = 1500) -> Path:
    """Enough distinct Python files that a run is still going when it is interrupted."""
    for index in range(files):
        directory = root / f"pkg{index % 20}"
        directory.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def f{index}_{n}(x):\n    return x + {n}\n" for n in range(150))
        (directory / f"m{index}.py").write_text(body)
    return root


def _embedded_url(data_dir: Path) -> str:
    return EmbeddedPostgres(data_dir / "postgres", service_account("parsefleet")).url()


def _committed_files(data_dir: Path) -> int:
    """Files the workers have committed so far, read from the run's own embedded database."""
    try:
        with psycopg.connect(_embedded_url(data_dir), connect_timeout=2) as conn:
            row = conn.execute("SELECT coalesce(sum(files), 0) FROM batch_results").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _servers_of(data_dir: Path) -> list[str]:
    """Command lines of processes still running on ``data_dir`` (embedded servers, workers)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(data_dir) in cmdline and "pytest" not in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signalled_run_cancels_its_run_and_stops_what_it_started(
    signum: signal.Signals, tmp_path: Path, embedded_data_dir: Path
) -> None:
    repo = _big_repo(tmp_path / "repo")
    env = _env(PARSEFLEET_DATA_DIR=str(embedded_data_dir), PARSEFLEET_BATCH_MAX_BYTES="32768")
    run = subprocess.Popen(
        [*PARSEFLEET, "run", str(repo), "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(
        lambda: _committed_files(embedded_data_dir) > 0 or run.poll() is not None, "a first batch committed", 120
    )
    run.send_signal(signum)
    _out, err = run.communicate(timeout=120)
    assert run.returncode == 128 + signum, err
    assert "cancelled:" in err and "queued batches withdrawn" in err, err
    assert "Traceback" not in err
    assert _servers_of(embedded_data_dir) == []
    report = _cli(["report", "--json"], env)
    assert report.returncode == 0, report.stderr  # a cancelled run has finished: every batch has a result
    figures = json.loads(report.stdout)
    assert figures["status"] == "cancelled"
    python = figures["languages"][0]
    # files the producer had not read yet are not part of the run; what it read is accounted
    assert 0 < python["seen"] <= 1500 and python["cancelled"] > 0 and python["parsed"] > 0
    assert python["seen"] == python["parsed"] + python["skipped_total"] + python["failed"] + python["cancelled"]
    assert _servers_of(embedded_data_dir) == []


def test_cancel_withdraws_the_queued_batches_of_a_submitted_run(
    tmp_path: Path, redis_url: str, clean_redis: redis.Redis, clean_db: str
) -> None:
    env = _env(PARSEFLEET_REDIS_URL=redis_url, PARSEFLEET_DATABASE_URL=clean_db, PARSEFLEET_BATCH_MAX_BYTES="32768")
    submitted = _cli(["submit", str(_big_repo(tmp_path / "repo", files=200))], env)  # no worker runs
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.split()[2].rstrip(":")
    queued = sum(int(clean_redis.llen(queue)) for queue in QUEUES.values())
    assert queued > 0 and clean_redis.hlen(OUTBOX_KEY) == queued
    cancelled = _cli(["cancel", run_id], env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"{queued} queued batches withdrawn (200 files)" in cancelled.stdout
    assert sum(int(clean_redis.llen(queue)) for queue in QUEUES.values()) == 0 and clean_redis.hlen(OUTBOX_KEY) == 0
    report = json.loads(_cli(["report", run_id, "--json"], env).stdout)
    assert report["status"] == "cancelled" and report["finished"] is True
    assert report["languages"][0]["cancelled"] == 200 and report["languages"][0]["parsed"] == 0
    again = _cli(["cancel", run_id], env)
    assert again.returncode == 0 and "was cancelled already" in again.stdout


@pytest.mark.parametrize(
    ("run_id", "message"),
    [("not-a-run", "not a run id: 'not-a-run'"), ("7d4a3c8e-0000-4000-8000-000000000000", "no run 7d4a3c8e")],
)
def test_cancel_and_report_of_a_bad_run_id_are_bad_input(
    run_id: str, message: str, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = _env(PARSEFLEET_REDIS_URL=redis_url, PARSEFLEET_DATABASE_URL=clean_db)
    for command in (["cancel", run_id], ["report", run_id]):
        done = _cli(command, env)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_submit_wait_without_a_worker_says_so_and_an_interrupt_leaves_the_run_to_the_fleet(
    tmp_path: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = _env(PARSEFLEET_REDIS_URL=redis_url, PARSEFLEET_DATABASE_URL=clean_db)
    repo = _big_repo(tmp_path / "repo", files=20)
    waiting = subprocess.Popen(
        [*PARSEFLEET, "submit", str(repo), "--wait", "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stderr is not None
    said: list[str] = []
    wait_until(lambda: said.append(waiting.stderr.readline()) or "no worker consumes" in said[-1], "the notice", 60)
    assert "parsefleet.python" in said[-1] and "parsefleet worker" in said[-1]
    waiting.send_signal(signal.SIGINT)
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 130
    assert "stopped waiting" in err and "goes on" in err
    status = _cli(["status", "--json"], env)
    assert json.loads(status.stdout)["runs"][0]["status"] == "running"


def test_report_of_an_unfinished_run_exits_1(
    tmp_path: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = _env(PARSEFLEET_REDIS_URL=redis_url, PARSEFLEET_DATABASE_URL=clean_db)
    assert _cli(["submit", str(_big_repo(tmp_path / "repo", files=5))], env).returncode == 0
    report = _cli(["report"], env)
    assert report.returncode == 1 and "(not finished)" in report.stdout


def test_run_json_to_stdout_is_json_alone_with_numbers(tmp_path: Path, embedded_data_dir: Path) -> None:
    env = _env(PARSEFLEET_DATA_DIR=str(embedded_data_dir))
    done = _cli(["run", str(_big_repo(tmp_path / "repo", files=10)), "--no-progress", "--json", "-"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # nothing but the JSON on stdout
    python = report["languages"][0]
    assert isinstance(python["files_per_min"], float) and isinstance(python["p95_ms"], float)
    assert report["total"]["parsed"] == 10 and report["repositories"] == [str(tmp_path / "repo")]


@pytest.mark.parametrize("order", ["together", "the later one ends first"])
def test_two_runs_on_one_data_directory_share_its_services(order: str, tmp_path: Path, embedded_data_dir: Path) -> None:
    """Started together on a fresh directory, or one after the other with the later one ending first
    (the earlier one is held with SIGSTOP meanwhile): both finish, and the last one stops the services."""
    env = _env(PARSEFLEET_DATA_DIR=str(embedded_data_dir), PARSEFLEET_BATCH_MAX_BYTES="32768")
    small, large = _big_repo(tmp_path / "small", files=10), _big_repo(tmp_path / "large", files=300)
    command = [*PARSEFLEET, "run", "--no-progress"]
    earlier = subprocess.Popen(
        [*command, str(large)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    held = order != "together"
    if held:
        wait_until(lambda: _committed_files(embedded_data_dir) > 0, "the earlier run under way", 120)
        earlier.send_signal(signal.SIGSTOP)
    later = subprocess.Popen([*command, str(small)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    later_out, later_err = later.communicate(timeout=300)
    assert later.returncode == 0, later_err
    if held:
        assert earlier.poll() is None
        earlier.send_signal(signal.SIGCONT)
    earlier_out, earlier_err = earlier.communicate(timeout=600)
    assert earlier.returncode == 0, earlier_err
    assert "(not finished)" not in later_out + earlier_out
    wait_until(lambda: _servers_of(embedded_data_dir) == [], "the services stopped by the last run", 30)
