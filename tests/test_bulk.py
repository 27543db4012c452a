"""Bulk ingestion through real processes: a thousand git repositories from a `--from` file with bad
lines, targets that fail to list, and a producer that streams (it sends before it has listed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.names import OUTBOX_KEY, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.producer.submission import Submission
from parsefleet.producer.targets import Listing, TargetStream, read_targets
from parsefleet.reading.report import load_report, load_state
from parsefleet.services.local_workers import LocalWorkers
from tests.bulk_repos import cli_env as _cli_env
from tests.bulk_repos import small_repositories as _small_repositories
from tests.services import wait_until

pytestmark = pytest.mark.service

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]


def _with_bad_lines(repositories: list[Path], tmp_path: Path) -> tuple[str, dict[int, str]]:
    """The text of a `--from` file naming ``repositories``, with a comment, a blank line and bad
    lines in between; and the bad lines' numbers with what their error must say."""
    (tmp_path / "a-file.txt").write_text("not a directory\n")
    lines = ["# generated repositories", ""]
    bad: dict[int, str] = {}
    for index, repository in enumerate(repositories):
        lines.append(str(repository))
        if index == 10:
            lines.append(str(tmp_path / "nowhere"))
            bad[len(lines)] = "no such file or directory"
        if index == 500:
            lines.append(str(tmp_path / "a-file.txt"))
            bad[len(lines)] = "not a directory"
        if index == 700:
            lines.append(str(repositories[3]))  # the same repository twice
            bad[len(lines)] = "the same repository as list.txt:6"
    return "\n".join(lines) + "\n", bad


@pytest.mark.slow
def test_a_thousand_repositories_from_a_file_with_bad_lines_each_file_accounted_once(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repositories = _small_repositories(tmp_path / "repos", 1000)
    text, bad = _with_bad_lines(repositories, tmp_path)
    (tmp_path / "list.txt").write_text(text)
    done = subprocess.run(
        [*PARSEFLEET, "submit", "--wait", "--no-progress", "--from", "list.txt", "--json", "-"],
        cwd=tmp_path, env=_cli_env(settings), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("parsefleet: warning: list.txt:")]
    assert [int(line.split(":")[3]) for line in warnings] == sorted(bad)
    report = json.loads(done.stdout)
    assert report["finished"]
    failed = {int(item["origin"].split(":")[1]): item["error"] for item in report["failed_targets"]}
    assert sorted(failed) == sorted(bad)
    for number, message in bad.items():
        assert message in failed[number], failed[number]
    languages = {item["language"]: item for item in report["languages"]}
    assert languages["python"]["seen"] == 2000 and languages["go"]["seen"] == 1000
    assert languages["python"]["skipped"] == {"duplicate": 999}  # common.py: one blob for all
    assert languages["python"]["parsed"] == 1001 and languages["go"]["parsed"] == 1000
    for item in report["languages"]:
        assert item["seen"] == item["parsed"] + item["skipped_total"] + item["failed"] + item["cancelled"]
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT repository_id), count(*) FILTER (WHERE error IS NULL)"
            "  FROM run_targets WHERE run_id = %s",
            (report["run_id"],),
        ).fetchone()
        files = conn.execute("SELECT count(*) FROM files").fetchone()
    assert rows == (1003, 1000, 1000)  # every line a target once; the bad ones failed
    assert files == (3000,)
    listed = subprocess.run(
        [*PARSEFLEET, "report", report["run_id"], "--repositories", "--json"],
        env=_cli_env(settings), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    targets = json.loads(listed.stdout)
    assert [item["ordinal"] for item in targets] == list(range(1, 1004))
    states = {item["origin"]: item["state"] for item in targets}
    assert {origin for origin, state in states.items() if state == "failed"} == {f"list.txt:{n}" for n in bad}
    assert sum(state == "done" for state in states.values()) == 1000
    first = next(item for item in targets if item["origin"] == "list.txt:3")
    assert (first["files"], first["sent"], first["done"]) == (3, 3, 3)  # the first one sends common.py too
    sizes = sum(len(path.read_bytes()) for path in repositories[0].iterdir() if path.is_file())
    assert first["bytes_sent"] == first["bytes_done"] == sizes


def test_a_bad_line_under_strict_fails_the_submission_before_anything_starts(
    settings: Settings, tmp_path: Path
) -> None:
    repositories = _small_repositories(tmp_path / "repos", 3)
    lines = [str(repositories[0]), str(tmp_path / "nowhere"), str(repositories[1])]
    done = subprocess.run(
        [*PARSEFLEET, "submit", "--strict", "--from", "-", "--no-progress"],
        input="\n".join(lines) + "\n", env=_cli_env(settings), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    missing = f"{tmp_path / 'nowhere'}: no such file or directory"
    assert done.stderr.strip().splitlines() == [
        f"parsefleet: error: 1 bad target line under --strict: stdin:2: {missing}"
    ]
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_target_that_fails_to_list_fails_alone(settings: Settings, worker: LocalWorkers, tmp_path: Path) -> None:
    repositories = _small_repositories(tmp_path / "repos", 3)
    targets = read_targets(repositories)
    shutil.rmtree(repositories[1])  # gone between the command line and its listing
    assert settings.redis_url and settings.database_url
    tally = Submission(settings, settings.redis_url, settings.database_url).run(TargetStream(targets, settings))
    with psycopg.connect(settings.database_url) as conn:
        wait_until(
            lambda: load_state(conn, tally.run_id).finished, "the run finished", 120
        )  # a worker starting on a loaded host
        report = load_report(conn, tally.run_id)
    assert report.failed_targets == [
        ("argument 2", str(repositories[1]), f"{repositories[1]}: no such file or directory")
    ]
    assert {item.language: item.parsed for item in report.languages} == {"python": 3, "go": 2}
    assert all(item.accounted for item in report.languages)


def test_the_producer_sends_before_it_has_listed_every_target(
    settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    """No worker runs: what the producer sent stays on Redis, so the queue shows what had left
    when the last target was listed."""
    repositories = _small_repositories(tmp_path / "repos", 300)
    on_redis_when_last_listed: list[int] = []

    def listed(listing: Listing) -> None:
        if listing.target.ordinal == len(repositories):
            on_redis_when_last_listed.append(int(clean_redis.hlen(OUTBOX_KEY)))

    small = Settings.from_env(
        {},
        redis_url=settings.redis_url,
        database_url=settings.database_url,
        list_ahead_targets=8,
        list_threads=2,
        max_pending_batches=10_000,  # no worker takes them: nothing may wait on a full queue
    )
    assert small.redis_url and small.database_url
    stream = TargetStream(read_targets(repositories), small, listed=listed)
    tally = Submission(small, small.redis_url, small.database_url).run(stream)
    assert on_redis_when_last_listed and on_redis_when_last_listed[0] > 0
    queued = clean_redis.llen(queue_for("python")) + clean_redis.llen(queue_for("go"))
    assert queued == tally.batches


def test_listing_runs_a_bounded_number_of_targets_ahead(tmp_path: Path) -> None:
    repositories = _small_repositories(tmp_path / "repos", 40)
    started: list[int] = []
    settings = Settings.from_env({}, list_ahead_targets=5, list_threads=2)
    with TargetStream(read_targets(repositories), settings, listed=lambda item: started.append(1)) as stream:
        for taken, listing in enumerate(stream, 1):
            assert len(started) <= taken + 5
            assert listing.target.ordinal == taken and listing.error is None
            assert listing.snapshot is not None and listing.snapshot.files == 3
    assert len(started) == 40
