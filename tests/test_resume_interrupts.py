"""A producer of history-mode runs stopped at the awkward moments: every version still counted once.

In-process producers on the test Redis and PostgreSQL, real git repositories. A stop is injected
where no signal can be timed: Ctrl-C (KeyboardInterrupt) while the release of the held versions is
being recorded, or right after a window holding versions committed; a crash (an exception the
producer does not handle, as after SIGKILL: no clean-up runs) at several points. Each run is then
cancelled or resumed, and its account must close: every version sent once, or cancelled, or
refused. A history run also reports its repository once, not once a commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from parsefleet.cli import commands
from parsefleet.contract.batch import Batch, FileRef, decode_batch
from parsefleet.contract.names import OUTBOX_KEY
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.outbox import payload_of
from parsefleet.producer import enqueue, records
from parsefleet.producer.resume import resume_point
from parsefleet.producer.snapshot import plan_targets, refresh
from parsefleet.producer.submission import Submission, Tally
from parsefleet.producer.targets import Target, TargetStream, planned, resumed
from parsefleet.reading.report import load_report, load_repositories

pytestmark = pytest.mark.service

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main")
_COMMITS = 6


class Crash(Exception):
    """A stop the producer does not handle (as after SIGKILL)."""


def _git(root: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *_IDENTITY, "-C", str(root), *args], env=env, capture_output=True, check=True)
    return done.stdout.decode()


def _repository(root: Path, versions: list[dict[str, str]]) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    for number, files in enumerate(versions):
        for name, text in files.items():
            (root / name).write_text(text)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"v{number}")
    return root


def _history(root: Path) -> Path:
    return _repository(
        root, [{"a.py": f"def v{n}():\n    return {n}\n", "b.py": f"B = {n}\n"} for n in range(_COMMITS)]
    )


def _two_histories(tmp_path: Path) -> list[Path]:
    """One with a revert (a blob met again), one with the same blob at two paths, sharing a blob."""
    first = _repository(
        tmp_path / "r1", [{"a.py": f"A = {n % 3 if n != 3 else 1}\n", "k.py": f"K = {n}\n"} for n in range(_COMMITS)]
    )
    second = _repository(
        tmp_path / "r2", [{"x.py": f"X = {n}\n", "y.py": f"X = {n}\n", "z.py": "A = 2\n"} for n in range(_COMMITS)]
    )
    return [first, second]


def _crashing(after: int) -> Callable[[Tally], None]:
    calls = [0]

    def progress(_tally: Tally) -> None:
        calls[0] += 1
        if calls[0] == after:
            raise Crash

    return progress


def _accounted(settings: Settings, run_id: str) -> None:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        report = load_report(conn, run_id)
    assert report.languages
    for language in report.languages:
        assert language.accounted, language


def _outbox_refs(settings: Settings) -> list[FileRef]:
    """The files of every batch the outbox holds (no worker runs: every batch sent is there)."""
    assert settings.redis_url is not None
    found = []
    for record in redis_client(settings.redis_url).hgetall(OUTBOX_KEY).values():
        payload = payload_of(record)
        assert payload is not None
        found.extend(item.ref for item in decode_batch(payload).files)
    return found


def _outbox_files(settings: Settings) -> Counter[tuple[str, bytes]]:
    return Counter((ref.language, ref.blob_hash) for ref in _outbox_refs(settings))


def _one(settings: Settings, query: str, *params: object) -> tuple[object, ...]:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def _submission(settings: Settings, progress: Callable[[Tally], None] | None = None) -> Submission:
    assert settings.redis_url and settings.database_url
    return Submission(settings, settings.redis_url, settings.database_url, progress=progress)


def _resume(settings: Settings, run_id: str) -> None:
    assert settings.redis_url and settings.database_url
    point = resume_point(settings, settings.database_url, run_id)
    Submission(settings, settings.redis_url, settings.database_url, resume=point).run(
        resumed(point.targets, point.plans, settings)
    )


def _interrupt_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    original = records.Ledger.record

    def record(ledger: records.Ledger, entry: records.Entry) -> None:
        if entry.releases and entry.batches:
            monkeypatch.setattr(records.Ledger, "record", original)
            raise KeyboardInterrupt  # while the release's transaction runs: it never commits
        original(ledger, entry)

    monkeypatch.setattr(records.Ledger, "record", record)


def _interrupt_after_a_held_window(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Submission._hold

    def hold(submission: Submission, window: object) -> bool:
        if submission._held_window:  # the window's record committed; Ctrl-C before it is held
            monkeypatch.setattr(Submission, "_hold", original)
            raise KeyboardInterrupt
        return original(submission, window)

    monkeypatch.setattr(Submission, "_hold", hold)


@pytest.mark.parametrize("where", ["release", "held-window"])
def test_an_interrupted_history_then_cancelled_closes_its_account(
    where: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_interrupt_the_release if where == "release" else _interrupt_after_a_held_window)(monkeypatch)
    submission = _submission(settings)
    with pytest.raises(KeyboardInterrupt):
        submission.run(planned(plan_targets([_history(tmp_path / "h")], settings, history=_COMMITS), settings))
    commands.cancel(settings, submission.tally.run_id)
    _accounted(settings, submission.tally.run_id)


def test_a_history_crashed_while_holding_then_cancelled_closes_its_account(settings: Settings, tmp_path: Path) -> None:
    submission = _submission(settings, _crashing(3))
    with pytest.raises(Crash):
        submission.run(planned(plan_targets([_history(tmp_path / "h")], settings, history=_COMMITS), settings))
    run_id = submission.tally.run_id
    assert _one(settings, "SELECT count(*) FROM run_held WHERE run_id = %s AND batch_id IS NULL", run_id)[0] != 0
    commands.cancel(settings, run_id)
    _accounted(settings, run_id)


@pytest.mark.parametrize("after", [2, 3, 5, 7, 9])
def test_histories_crashed_then_resumed_send_each_version_once(settings: Settings, tmp_path: Path, after: int) -> None:
    submission = _submission(settings, _crashing(after))
    with pytest.raises(Crash):
        submission.run(planned(plan_targets(_two_histories(tmp_path), settings, history=_COMMITS), settings))
    run_id = submission.tally.run_id
    _resume(settings, run_id)
    sent = _one(settings, "SELECT sum(sent) FROM run_inputs WHERE run_id = %s", run_id)[0]
    carried = _one(settings, "SELECT sum(files) FROM batches WHERE run_id = %s", run_id)[0]
    outbox = _outbox_files(settings)  # no worker runs: every batch sent is still there
    assert sent == carried == sum(outbox.values())
    assert set(outbox.values()) == {1}  # no version twice
    assert _one(settings, "SELECT count(*) FROM run_held WHERE run_id = %s", run_id) == (0,)  # gone once submitted


def test_held_versions_that_can_no_longer_be_read_are_refused_not_taken_from_the_disk(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = _history(tmp_path / "h")
    original = enqueue.Enqueuer.send
    calls = [0]

    def send(enqueuer: enqueue.Enqueuer, batch: Batch) -> None:
        calls[0] += 1
        if calls[0] == 2:  # the first commit's batch left; the release's never does
            raise Crash
        original(enqueuer, batch)

    monkeypatch.setattr(enqueue.Enqueuer, "send", send)
    submission = _submission(settings)
    with pytest.raises(Crash):
        submission.run(planned(plan_targets([repository], settings, history=_COMMITS), settings))
    monkeypatch.setattr(enqueue.Enqueuer, "send", original)
    shutil.move(repository / ".git", tmp_path / "elsewhere.git")  # its history gone; a.py as it is now stays
    run_id = submission.tally.run_id
    _resume(settings, run_id)

    a_versions = Counter(ref for (language, ref) in _outbox_files(settings) if language == "python")
    assert set(a_versions.values()) == {1}  # never the file on disk sent for each version
    refused = _one(settings, "SELECT count(*) FROM parse_failures WHERE run_id = %s AND kind = 'unreadable'", run_id)
    assert int(str(refused[0])) >= _COMMITS - 1
    _accounted_at_the_producer(settings, run_id)


def _accounted_at_the_producer(settings: Settings, run_id: str) -> None:
    """seen = sent + skipped + refused, and what was sent is what the batches carry."""
    row = _one(
        settings,
        "SELECT (SELECT sum(seen) FROM run_inputs WHERE run_id = %s), (SELECT sum(sent) FROM run_inputs WHERE"
        " run_id = %s), (SELECT coalesce(sum(files), 0) FROM run_skips WHERE run_id = %s), (SELECT count(*)"
        " FROM parse_failures WHERE run_id = %s)",
        run_id, run_id, run_id, run_id,
    )  # fmt: skip
    seen, sent, skipped, refused = (int(str(value)) for value in row)
    assert seen == sent + skipped + refused
    assert sent == sum(_outbox_files(settings).values())


def test_a_reindex_interrupted_is_submitted_with_what_it_sent(settings: Settings, tmp_path: Path) -> None:
    repository = _repository(tmp_path / "r", [{f"m{n:03d}.py": f"def f{n}():\n    return {n}\n" for n in range(300)}])
    files = []
    for line in _git(repository, "ls-tree", "-r", "-l", "HEAD").splitlines():
        meta, path = line.split("\t")
        _mode, _type, blob, size = meta.split()
        files.append((path, bytes.fromhex(blob), int(size)))
    snapshot = refresh("reindexed", str(repository), _git(repository, "rev-parse", "HEAD").strip(), files)
    assert snapshot is not None

    def interrupt(_tally: Tally) -> None:
        raise KeyboardInterrupt

    submission = _submission(settings, interrupt)
    with pytest.raises(KeyboardInterrupt):
        submission.run(planned([snapshot], settings))
    row = _one(settings, "SELECT submitted_at IS NOT NULL FROM runs WHERE id = %s", submission.tally.run_id)
    assert row == (True,)


def test_an_interrupted_run_does_not_move_where_its_repository_is_read_from(settings: Settings, tmp_path: Path) -> None:
    first = _repository(tmp_path / "a", [{f"m{n}.py": f"A{n} = 1\n" for n in range(5)}])
    _submission(settings).run(planned(plan_targets([first], settings, name="proj"), settings))
    before = _one(settings, "SELECT location, indexed_commit FROM repositories WHERE root = 'proj'")
    other = tmp_path / "b"  # another directory named proj (not git), interrupted in its first window
    other.mkdir()
    for number in range(300):
        (other / f"m{number:03d}.py").write_text(f"B{number} = 1\n")

    def interrupt(_tally: Tally) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _submission(settings, interrupt).run(planned(plan_targets([other], settings, name="proj"), settings))
    assert _one(settings, "SELECT location, indexed_commit FROM repositories WHERE root = 'proj'") == before


def test_a_mirror_whose_origin_url_is_not_utf8_is_named_losslessly(settings: Settings, tmp_path: Path) -> None:
    work = _repository(tmp_path / "w", [{"a.py": "A = 1\n"}])
    mirror = tmp_path / "m.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirror)], check=True, capture_output=True)
    config = (mirror / "config").read_bytes().replace(str(work).encode(), b"https://example.invalid/caf\xe9.git")
    (mirror / "config").write_bytes(config)
    streamed = _submission(settings).run(TargetStream([Target(1, mirror, "argument 1")], settings))
    pinned = _submission(settings).run(planned(plan_targets([mirror], settings, revision="HEAD"), settings))
    names = {line.name for tally in (streamed, pinned) for line in tally.repositories}
    assert len(names) == 1
    (name,) = names
    assert name.startswith("https://example.invalid/caf") and name.endswith(".git") and "\udce9" not in name


def test_a_history_reports_its_repository_bytes_once_not_once_a_commit(settings: Settings, tmp_path: Path) -> None:
    tally = _submission(settings).run(
        planned(plan_targets([_history(tmp_path / "h")], settings, history=_COMMITS), settings)
    )
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        targets = load_repositories(conn, tally.run_id)
    stored = _one(settings, "SELECT sum(size_bytes), count(*) FROM files WHERE last_run_id = %s", tally.run_id)
    assert len(targets) == _COMMITS
    assert sum(target.bytes_sent for target in targets) == stored[0]  # each file once, for the last commit
    assert sum(target.sent for target in targets) == stored[1]


def test_a_directory_changed_between_the_crash_and_the_resume_goes_on_after_the_last_path_read(
    settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "d"
    root.mkdir()
    for n in range(400):
        (root / f"m{n:03d}.py").write_text(f"M{n} = {n}\n")
    submission = _submission(settings, _crashing(2))  # two windows read: 64 files, then 128
    with pytest.raises(Crash):
        submission.run(TargetStream([Target(1, root, "argument 1")], settings))
    read = {ref for (_language, ref) in _outbox_paths(settings)}
    assert read == {f"m{n:03d}.py" for n in range(192)}
    for n in (*range(10), *range(300, 305)):  # gone: before the position, after it
        (root / f"m{n:03d}.py").unlink()
    for name in ("a0", "m0005", "m1915", "z0"):  # new: behind the last path read (m191.py), after it
        (root / f"{name}.py").write_text(f"{name.upper()} = 1\n")
    _resume(settings, submission.tally.run_id)

    sent = _outbox_paths(settings)
    assert set(sent.values()) == {1}  # nothing twice
    after = {f"m{n:03d}.py" for n in range(192, 400) if n not in range(300, 305)} | {"m1915.py", "z0.py"}
    assert {path for (_language, path) in sent} == read | after  # nothing the two listings share left out
    _accounted_at_the_producer(settings, submission.tally.run_id)


def _outbox_paths(settings: Settings) -> Counter[tuple[str, str]]:
    return Counter((ref.language, ref.path) for ref in _outbox_refs(settings))
