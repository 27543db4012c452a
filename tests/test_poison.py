"""Poison batches: a file that kills its worker on every try is isolated and recorded as ``crash``,
the rest of its batch is parsed; batches that still cannot be processed wait in the dead-letter
list until ``parsefleet dead-letter replay`` sends them again.

The killing file is real: 100,000 unclosed parentheses, which tree-sitter's error recovery takes
about 5 s to parse (measured on this machine). The test gives batches a hard time limit of 2 s and
the per-file deadline 60 s, so the progress callback does not cancel the parse first: Celery's hard
limit SIGKILLs the pool child in the middle of the parse, exactly as it would a hung parse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery

from parsefleet.cli import commands
from parsefleet.contract.batch import Batch, BatchFile, FileRef, encode_batch
from parsefleet.contract.names import ATTEMPTS_KEY_PREFIX, DEAD_LETTER_KEY, PARSE_BATCH_TASK, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import celery_config
from parsefleet.producer.submission import blob_hash
from parsefleet.services.local_workers import LocalWorkers
from tests.accounting import assert_exactly_once, known_run, many_files, probed_run
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(300)]

_FILES = 2000
_POISON = b"x = " + b"(" * 100_000 + b"\n"
_DELIVERIES = Settings().poison_deliveries


def test_a_file_that_kills_its_worker_is_isolated_and_recorded_as_crash(settings: Settings, tmp_path: Path) -> None:
    repo = many_files(tmp_path / "repo", _FILES)
    (repo / "m01000 unclosed.py").write_bytes(_POISON)  # sorted into the middle of the run
    assert settings.redis_url and settings.database_url
    env = {"PARSEFLEET_BATCH_TIME_LIMIT_S": "2", "PARSEFLEET_PARSE_TIMEOUT_S": "60"}
    report, probe = probed_run(settings, repo, tmp_path / "logs", env=env)
    figures = assert_exactly_once(settings.database_url, report, _FILES + 1, failed=1)
    assert [(kind, Path(path).name) for _lang, kind, path, _message in report.failed_files] == [
        ("crash", "m01000 unclosed.py")
    ]
    kills = (tmp_path / "logs" / "worker-0.log").read_text().count("Hard time limit (2.0s) exceeded")
    # each split level and the final single-file batch: poison_deliveries - 1 deaths, then no parse
    assert figures.splits >= 1 and kills == (_DELIVERIES - 1) * (figures.splits + 1)
    with psycopg.connect(settings.database_url) as conn:
        early = conn.execute(
            "SELECT count(*) FROM batch_results b JOIN runs r ON r.id = b.run_id"
            " WHERE r.id = %s AND b.finished_at > r.finished_at",
            (report.state.run_id,),
        ).fetchone()
    assert early == (0,), "the run was marked finished before its last batch"
    # The next run does not feed the file to a worker again, unless asked to
    again = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=False))
    python = next(item for item in again.languages if item.language == "python")
    assert python.skipped == {"unchanged": _FILES, "crashed-before": 1}, python
    retry = replace(settings, retry_crashed=True)
    assert (
        commands.submit(retry, [repo], commands.RunOptions(ci=False, progress=False, wait=False)).state.batches_total
        == 1
    )
    peak = max(probe.peak_rss_mb.values())
    print(
        f"poison: {figures.files} files, 0 lost, 0 duplicated, {figures.splits} splits, {kills} pool children killed"
        f" by the hard limit, {figures.redeliveries} redeliveries of committed batches, peak worker RSS {peak:.0f} MB"
    )


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    return subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dead_letters_are_listed_and_replayed(
    settings: Settings, worker: LocalWorkers, clean_redis: redis.Redis
) -> None:
    assert settings.redis_url and settings.database_url
    content = b"def survivor():\n    return 1\n"
    run_id = known_run(settings.database_url)
    ref = FileRef(1, "survivor.py", blob_hash(content), "python", len(content))
    batch = Batch(f"{run_id}:000001", run_id, "python", (BatchFile(ref, content),))
    # Its worker "died" 2N - 1 times already: the next start finds even splitting it hopeless.
    task_id = str(uuid.uuid4())
    clean_redis.set(ATTEMPTS_KEY_PREFIX + task_id, 2 * _DELIVERIES - 1)
    sender = Celery("test-sender", set_as_current=False)
    sender.conf.update(celery_config(settings, settings.redis_url))
    sender.send_task(PARSE_BATCH_TASK, args=[b"not a batch", 0.0], queue=queue_for("python"))
    sender.send_task(PARSE_BATCH_TASK, args=[encode_batch(batch), 0.0], queue=queue_for("python"), task_id=task_id)
    sender.close()
    wait_until(lambda: clean_redis.llen(DEAD_LETTER_KEY) == 2, "both batches dead-lettered", 60)
    env = {"PARSEFLEET_REDIS_URL": settings.redis_url, "PARSEFLEET_DATABASE_URL": settings.database_url}

    listed = _cli(["dead-letter", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    entries = {entry["batch_id"]: entry for entry in json.loads(listed.stdout)}
    assert set(entries) == {None, batch.batch_id}
    assert entries[batch.batch_id]["paths"] == ["survivor.py"]
    assert f"died {2 * _DELIVERIES - 1} times" in str(entries[batch.batch_id]["reason"])
    assert "dead letters: 2 (parsefleet dead-letter list)" in _cli(["status"], env).stdout

    unknown = _cli(["dead-letter", "replay", "0123456789ab"], env)
    assert unknown.returncode == 2 and "no dead letter 0123456789ab" in unknown.stderr

    replayed = _cli(["dead-letter", "replay", "--all"], env)
    assert replayed.returncode == 1  # the undecodable one cannot be replayed, and stays
    assert f"replayed 1: {entries[batch.batch_id]['id']}" in replayed.stdout
    assert f"kept {entries[None]['id']}: undecodable payload" in replayed.stdout
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        wait_until(
            lambda: (
                conn.execute("SELECT parsed FROM batch_results WHERE batch_id = %s", (batch.batch_id,)).fetchone()
                == (1,)
            ),
            "the replayed batch parsed",
            60,
        )
    remaining = json.loads(_cli(["dead-letter", "list", "--json"], env).stdout)
    assert [entry["id"] for entry in remaining] == [entries[None]["id"]]
