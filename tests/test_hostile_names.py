"""Names, links and blobs that used to fool the report, through the real pipeline: names that steer
a terminal are shown escaped, names that are not UTF-8 keep a row of their own, hard links and
vendored trees are counted (and read when asked), and a blob met twice in a run is a ``duplicate``
however fast the workers commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from parsefleet.cli import commands
from parsefleet.contract.settings import Settings
from parsefleet.producer.snapshot import plan_targets
from parsefleet.producer.submission import Submission, Tally
from parsefleet.producer.targets import planned
from parsefleet.reading.report import load_report, load_state, render
from parsefleet.services.local_workers import LocalWorkers

pytestmark = [pytest.mark.service]

_FORGED = [
    "erase\x1b[1A\x1b[2K\r  failed timeout: forged-one.py",
    "newline\n  failed timeout: forged-two.py: a forged line\n.py",
    "bidi \u202eyp.txt.py",
]


def test_names_that_steer_a_terminal_are_shown_escaped_and_stored_exactly(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fine.py").write_text("def fine():\n    pass\n")
    for name in _FORGED:
        (repo / name).write_bytes(b"x = 1\n" * 100)  # over max_file_bytes: a failure the report names
    settings = replace(settings, max_file_bytes=200)
    report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    assert report.state.finished
    text = render(report)
    assert not {"\x1b", "\r", "\u202e"} & set(text), text
    failed_lines = [line for line in text.splitlines() if line.startswith("  failed ")]
    assert len(failed_lines) == len(report.failed_files) == len(_FORGED), text
    assert "forged-one.py" in text and "\\x1b[1A\\x1b[2K\\x0d" in text
    assert all(": too-large" not in line or "larger than" in line for line in failed_lines)
    stored = sorted(Path(row["path"]).name for row in report.as_dict()["failed_files"])
    assert stored == sorted(_FORGED)  # JSON keeps the real names


def test_a_name_that_is_not_utf8_and_its_look_alike_keep_a_row_each(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    with open(os.path.join(os.fsencode(repo), b"caf\xe9.py"), "wb") as handle:  # latin-1 'café.py'
        handle.write(b"def latin():\n    pass\n")
    (repo / "caf\\xe9.py").write_text("def look_alike():\n    pass\n")  # the same text, literally
    report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    assert report.state.finished and report.parsed == 2
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        rows = sorted(str(row[0]) for row in conn.execute("SELECT path FROM files"))
    assert rows == ["caf\\\\xe9.py", "caf\\xe9.py"]


def _tree_with_a_late_duplicate(root: Path, distinct: int) -> Path:
    """``distinct`` files with different content, then (sorted last, so in a later window) a copy of
    the first."""
    root.mkdir()
    for number in range(distinct):
        (root / f"m{number:03d}.py").write_text(f"def f{number}():\n    return {number}\n")
    (root / "z_copy.py").write_bytes((root / "m000.py").read_bytes())
    return root


def _run_waiting_between_windows(settings: Settings, repo: Path, first_window: int) -> dict[str, int]:
    """Submit ``repo``, letting the workers commit every blob of the first window (``first_window``
    files) before the second is read; return the run's skips."""
    assert settings.redis_url and settings.database_url
    database_url = settings.database_url

    def after_window(tally: Tally) -> None:
        if sum(tally.seen.values()) != first_window or tally.submitted:
            return
        with psycopg.connect(database_url, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while (conn.execute("SELECT count(*) FROM batch_results").fetchone() or (0,))[0] < tally.batches:
                assert time.monotonic() < deadline
                time.sleep(0.02)

    tally = Submission(settings, settings.redis_url, database_url, progress=after_window).run(
        planned(plan_targets([repo], settings), settings)
    )
    with psycopg.connect(database_url) as conn:
        deadline = time.monotonic() + 60
        while not load_state(conn, tally.run_id).finished:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        report = load_report(conn, tally.run_id)
    return report.languages[0].skipped


def test_a_blob_met_twice_in_a_run_is_a_duplicate_even_once_its_workers_committed_it(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    first_window = 64  # producer/submission.py, for a listing of more than 256 files
    distinct = 300
    repo = _tree_with_a_late_duplicate(tmp_path / "repo", distinct)
    first = _run_waiting_between_windows(settings, repo, first_window)
    assert first == {"duplicate": 1}, first  # never "unchanged" in a first run
    again = _run_waiting_between_windows(settings, repo, first_window)
    assert again == {"unchanged": distinct, "duplicate": 1}, again  # across runs: unchanged


def test_hard_links_and_vendored_trees_are_counted_and_read_when_asked(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("secret = 1\n")
    repo = tmp_path / "repo"
    (repo / "vendor").mkdir(parents=True)
    (repo / "plain.py").write_text("p = 1\n")
    (repo / "vendor" / "dep.py").write_text("d = 1\n")
    os.link(outside, repo / "linked.py")
    report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    assert report.parsed == 1 and report.languages[0].skipped == {"hardlink": 1, "vendored": 1}
    assert settings.redis_url and settings.database_url
    env = {"PARSEFLEET_REDIS_URL": settings.redis_url, "PARSEFLEET_DATABASE_URL": settings.database_url}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    command = [sys.executable, "-m", "parsefleet.cli.main", "submit", str(repo), "--wait", "--no-progress"]
    flags = ["--json", "-", "--follow-hardlinks", "--include-vendored"]
    done = subprocess.run(
        [*command, *flags], env={**clean, **env}, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    python = json.loads(done.stdout[done.stdout.index("{") :])["languages"][0]
    assert python["parsed"] == 2 and python["skipped"] == {"unchanged": 1}, python
