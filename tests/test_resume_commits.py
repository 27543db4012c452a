"""Runs of commits killed with SIGKILL, then resumed: each target read as it was planned.

A run looked at up front (``--rev``, ``--name``, ``--history``) is resumed by its stored plan: the
same commit, the same repository name, the same place in the history; a bare mirror read in part
has its recorded batches rebuilt from the mirror; a history run killed while it holds the versions
of its files (or while it sends them) sends each version exactly once. Real processes: the
producer is a `parsefleet submit` process held by backpressure (no worker yet), killed, then
resumed with one local worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from parsefleet.contract.names import OUTBOX_KEY, queue_for
from parsefleet.contract.settings import Settings
from tests.bulk_repos import assert_each_sent_once, cli_env, resumed_with_a_worker
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]
_ORIGIN = "https://git.example.invalid/team/pinned.git"
_MIRROR_FILES = 600  # read in several slices: the first windows are sent before the tree is done
_HISTORY_COMMITS = 300


def _one(database_url: str, query: str, *params: object) -> tuple[object, ...]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def _git(repository: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(repository), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=repository, env=env, input=stdin, capture_output=True, check=True)
    return done.stdout.decode()


def _commits(repository: Path, commits: list[dict[str, str]]) -> None:
    """A bare repository whose branch main holds ``commits`` (path to content each), in order."""
    repository.mkdir(parents=True)
    _git(repository, "init", "-q", "--bare", "--template=", "-b", "main")
    stream = bytearray()
    for number, files in enumerate(commits, 1):
        stream += b"commit refs/heads/main\ncommitter t <t@example.invalid> %d +0000\ndata 1\nc\n" % (
            1700000000 + number
        )
        for path, content in sorted(files.items()):
            data = content.encode()
            stream += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)
    _git(repository, "fast-import", "--quiet", stdin=bytes(stream))


def _held(client: redis.Redis, database_url: str) -> bool:
    """A queue is full (no worker takes from it) and recorded batches wait to be sent."""
    recorded = int(str(_one(database_url, "SELECT count(*) FROM batches")[0]))
    full = max(int(client.llen(queue_for("python"))), int(client.llen(queue_for("go")))) >= 2
    return full and recorded > int(client.hlen(OUTBOX_KEY))


def _commits_recorded(database_url: str) -> int:
    return int(str(_one(database_url, "SELECT count(*) FROM repository_commits")[0]))


def _holding(_client: redis.Redis, database_url: str) -> bool:
    """The history is recorded past its first commit, not to its end: the versions read since are
    held, not batched."""
    return 2 <= _commits_recorded(database_url) < _HISTORY_COMMITS - 10


def _releasing(client: redis.Redis, database_url: str) -> bool:
    """The whole history is recorded, and the batches of its held versions wait for the queue."""
    return _commits_recorded(database_url) == _HISTORY_COMMITS and _held(client, database_url)


def _killed_then_resumed(
    settings: Settings, tmp_path: Path, args: list[str], reached: Callable[[], bool], what: str
) -> tuple[dict[str, Any], str, tuple[object, ...]]:
    """Run `parsefleet submit ARGS` with no worker, SIGKILL it once ``reached()``, then resume it
    with one worker; the resumed run's report, its id, and at the kill: the versions it held (not
    batched, batched) and `parsefleet report RUN --repositories --json`."""
    env = {
        **cli_env(settings), "PARSEFLEET_BATCH_MAX_FILES": "8", "PARSEFLEET_HEARTBEAT_S": "0.5",
        "PARSEFLEET_MAX_PENDING_BATCHES": "2", "PARSEFLEET_BATCH_TARGET_MS": "0",
    }  # fmt: skip
    producer = subprocess.Popen(
        [*PARSEFLEET, "submit", "--no-progress", *args], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(reached, f"the producer {what}", 300)
    finally:
        producer.send_signal(signal.SIGKILL)
        producer.wait(timeout=30)
    assert producer.returncode == -signal.SIGKILL, producer.stderr.read() if producer.stderr else ""
    assert settings.database_url is not None and settings.redis_url is not None
    run_id = str(_one(settings.database_url, "SELECT id::text FROM runs WHERE submitted_at IS NULL")[0])
    held = _one(settings.database_url, "SELECT count(*) - count(batch_id), count(batch_id) FROM run_held")
    shown = subprocess.run(
        [*PARSEFLEET, "report", run_id, "--repositories", "--json"], env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    return resumed_with_a_worker(settings, env, tmp_path / "logs", run_id), run_id, (*held, json.loads(shown.stdout))


def _assert_each_sent_once(report: dict[str, Any], database_url: str, run_id: str, sent: int) -> None:
    assert report["run_id"] == run_id and report["finished"] and report["failed_targets"] == []
    for item in report["languages"]:
        assert item["cancelled"] == 0 and item["failed"] == 0
        assert item["seen"] == item["parsed"] + item["skipped_total"]
    assert_each_sent_once(database_url, run_id, sent)


def test_a_mirror_at_a_revision_killed_while_sending_is_resumed_at_that_revision_and_name(
    settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    old = {f"pkg/m{n:03d}.py": f"def f{n}():\n    return {n}\n" for n in range(_MIRROR_FILES)}
    new = {**old, "pkg/m000.py": "def changed():\n    return -1\n", "late.py": "LATE = 1\n"}
    mirror = tmp_path / "pinned.git"
    _commits(mirror, [old, new])
    _git(mirror, "config", "remote.origin.url", _ORIGIN)
    pinned = _git(mirror, "rev-parse", "main~1").strip()
    assert settings.database_url is not None
    url = settings.database_url

    report, run_id, at_kill = _killed_then_resumed(
        settings, tmp_path, ["--rev", pinned, "--name", "pinned", str(mirror)],
        lambda: _held(clean_redis, url), "sending the mirror's first windows",
    )  # fmt: skip

    (target,) = at_kill[2]  # the mirror read in part, named by --name, shows what it had sent
    assert target["state"] == "listing" and target["sent"] > 0 and target["bytes_sent"] > 0, target
    _assert_each_sent_once(report, url, run_id, _MIRROR_FILES)
    repositories = _one(
        url, "SELECT array_agg(root ORDER BY root), min(indexed_commit), min(location) FROM repositories"
    )
    assert repositories == (["pinned"], pinned, str(mirror))  # its name and commit, read from the mirror
    files = _one(url, "SELECT count(*), count(*) FILTER (WHERE path = 'late.py') FROM files")
    assert files == (_MIRROR_FILES, 0)  # the pinned commit's tree, not HEAD's
    changed = _one(url, "SELECT count(*) FROM symbols WHERE name = 'changed'")
    assert changed == (0,)


@pytest.mark.parametrize("point", ["holding", "releasing"])
def test_a_history_killed_while_it_holds_versions_sends_each_version_once(
    point: str, settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    versions = [f"def version_{n}(x):\n    return x + {n}\n" for n in range(_HISTORY_COMMITS)]
    repository = tmp_path / "history.git"
    _commits(repository, [{"a.py": text, "b.py": "B = 1\n"} for text in versions])
    assert settings.database_url is not None
    url = settings.database_url
    reached = _holding if point == "holding" else _releasing

    report, run_id, held = _killed_then_resumed(
        settings, tmp_path, ["--history", str(_HISTORY_COMMITS), str(repository)],
        lambda: reached(clean_redis, url), point,
    )  # fmt: skip

    unbatched, batched = (int(str(count)) for count in held[:2])
    if point == "holding":  # killed while it held versions read and not batched
        assert unbatched > 0 and batched == 0
    else:  # killed while the batches of every version held waited to be sent
        assert (unbatched, batched) == (0, _HISTORY_COMMITS - 1)
    _assert_each_sent_once(report, url, run_id, _HISTORY_COMMITS + 1)
    assert _one(url, "SELECT count(*) FROM run_held") == (0,)  # gone once the run is submitted
    outlined = _one(url, "SELECT count(DISTINCT name) FROM symbols WHERE name LIKE 'version\\_%%'")
    assert outlined == (_HISTORY_COMMITS,)  # every version's outline is stored
    tip = _git(repository, "rev-parse", "main").strip()
    assert _one(url, "SELECT indexed_commit FROM repositories") == (tip,)
