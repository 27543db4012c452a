"""History mode re-parses each version of a file from the previous version's tree.

On a test history of one Python file through edits of every kind (insertions, deletions, a syntax
error made and mended, a rename, a whole rewrite): the producer sends each file's versions in one
batch, in commit order, and the worker's outline of every version, parsed from the previous one's
tree, equals a full parse of it, in the batch and in the store (by commit).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from parsefleet.cli import commands
from parsefleet.contract.batch import Batch, BatchFile, FileRef, decode_batch
from parsefleet.contract.names import OUTBOX_KEY
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.outbox import payload_of
from parsefleet.producer.snapshot import plan_targets
from parsefleet.producer.submission import Submission, Tally, blob_hash
from parsefleet.producer.targets import planned
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.limits import ParseBudget
from parsefleet.workers.outcome import outline_batch

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main")
_BODY = "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(30))
_ONLY = "class Only:\n    value: int = 1\n\n    def get(self) -> int:\n        return self.value\n"
# Each a version of m.py, in commit order.
VERSIONS = [
    _BODY,
    _BODY.replace("def f7(x):", "def renamed_seven(x):"),  # a rename in the middle
    "import os\nfrom . import sibling\n\n"
    + _BODY.replace("def f7(x):", "def renamed_seven(x):"),  # lines inserted first
    _BODY + "class Late:\n    def method(self):\n        return 1\n",  # the imports gone, a class at the end
    _BODY.replace("def f12(x):\n    return x + 12\n", "def f12(x:\n    return (x + 12\n"),  # a syntax error
    _BODY.replace("def f12(x):", "async def f12(x):"),  # mended, and made async
    _BODY[: len(_BODY) // 3],  # two thirds removed
    _ONLY,  # rewritten
    _ONLY + "\n\ndef tail():\n    pass\n",  # appended
]


def _outline_names(source: bytes) -> list[tuple[str, str, int, int]]:
    outline = adapter_for("python").outline(source, ParseBudget(30))
    return [(item.kind, item.qualified_name, item.start_byte, item.end_byte) for item in outline.symbols]


def _batch(contents: list[bytes]) -> Batch:
    files = tuple(
        BatchFile(FileRef(1, "m.py", blob_hash(content), "python", len(content)), content) for content in contents
    )
    return Batch("run:000001", "run", "python", files)


def test_every_version_parsed_from_the_previous_tree_equals_its_full_parse() -> None:
    contents = [text.encode() for text in VERSIONS]
    reparsed = outline_batch(_batch(contents), 30, None, reparsed=frozenset({"python"}))
    assert reparsed.reparsed == len(contents) - 1
    full = outline_batch(_batch(contents), 30, None)
    assert full.reparsed == 0
    for content, again, once in zip(contents, reparsed.files, full.files, strict=True):
        assert again.outline is not None and once.outline is not None
        assert again.outline == once.outline  # symbols, imports, status, error counts
        names = [(item.kind, item.qualified_name, item.start_byte, item.end_byte) for item in again.outline.symbols]
        assert names == _outline_names(content)


def test_a_file_over_64_kib_is_reparsed_through_the_watched_parse_too() -> None:
    big = "".join(f"def g{n}(x):\n    return x * {n}\n\n" for n in range(3000))  # 100 KB: read by callback
    contents = [big.encode(), big.replace("def g1500(x):", "def middle(x):").encode(), (big + "END = 1\n").encode()]
    reparsed = outline_batch(_batch(contents), 30, None, reparsed=frozenset({"python"}))
    assert reparsed.reparsed == 2
    assert [item.outline for item in reparsed.files] == [
        item.outline for item in outline_batch(_batch(contents), 30, None).files
    ]


def test_versions_of_other_files_or_languages_are_parsed_in_full() -> None:
    first, second = b"def a():\n    pass\n", b"def a():\n    return 1\n"
    other = BatchFile(FileRef(1, "n.py", blob_hash(second), "python", len(second)), second)
    mixed = _batch([first])
    batch = Batch(mixed.batch_id, mixed.run_id, "python", (*mixed.files, other))  # another path: no reuse
    assert outline_batch(batch, 30, None, reparsed=frozenset({"python"})).reparsed == 0
    assert outline_batch(_batch([first, second]), 30, None, reparsed=frozenset({"go"})).reparsed == 0


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *_IDENTITY, "-C", str(root), *args], capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def _history(root: Path) -> list[str]:
    """A repository whose commits take m.py through VERSIONS (g.go changing beside it): the commits."""
    root.mkdir()
    _git(root, "init", "-q")
    commits = []
    for number, text in enumerate(VERSIONS):
        (root / "m.py").write_text(text)
        (root / "g.go").write_text(f"package g\n\nfunc G{number}() {{}}\n")
        (root / "still.py").write_text("STILL = 1\n")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"v{number}")
        commits.append(_git(root, "rev-parse", "HEAD").strip())
    return commits


def _sent_batches(settings: Settings) -> list[Batch]:
    """The batches in the outbox (sent, not finished), in the order the run made them."""
    assert settings.redis_url
    records = redis_client(settings.redis_url).hgetall(OUTBOX_KEY)
    payloads = [payload_of(record) for record in records.values()]
    return sorted((decode_batch(payload) for payload in payloads if payload), key=lambda batch: batch.batch_id)


pytestmark = pytest.mark.service


def test_history_mode_sends_each_files_versions_together_and_stores_full_parse_outlines(
    settings: Settings, tmp_path: Path
) -> None:
    from parsefleet.reading.outlines import load_outline
    from parsefleet.reading.report import load_state
    from parsefleet.reading.repositories import repository_named

    repo = tmp_path / "repo"
    commits = _history(repo)
    assert settings.redis_url and settings.database_url
    tally = Submission(settings, settings.redis_url, settings.database_url).run(
        planned(plan_targets([repo], settings, history=len(commits)), settings)
    )  # no worker yet: the batches wait in the outbox
    batches = _sent_batches(settings)
    expected = {path: [blob_hash(text.encode()) for text in texts] for path, texts in _versions_sent().items()}
    for path, blobs in expected.items():
        carrying = [batch for batch in batches if any(item.ref.blob_hash in blobs for item in batch.files)]
        assert len(carrying) == 1, path  # every version of the file in one batch
        in_batch = [item.ref.blob_hash for item in carrying[0].files if item.ref.path == path]
        assert in_batch == blobs, path  # in commit order, each once
        positions = [index for index, item in enumerate(carrying[0].files) if item.ref.path == path]
        assert positions == list(range(positions[0], positions[0] + len(positions))), path  # one after the other

    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1)
    fleet.start()
    try:
        with psycopg.connect(settings.database_url) as conn:
            deadline = time.monotonic() + 120
            while not load_state(conn, tally.run_id).finished:
                assert time.monotonic() < deadline, "the history run did not finish"
                conn.commit()
                time.sleep(0.05)
            repository = repository_named(conn, str(repo))
            for commit, text in zip(commits, VERSIONS, strict=True):
                stored = load_outline(conn, repository, "m.py", commit).symbols
                assert [(item.kind, item.qualified_name) for item in stored] == [
                    (kind, name) for kind, name, _start, _end in _outline_names(text.encode())
                ], commit
    finally:
        fleet.stop()


def _versions_sent() -> dict[str, list[str]]:
    """What the run sends of each file after the first commit's tree (read in full, sent as read):
    each later commit's new blobs, held and batched together."""
    return {
        "m.py": VERSIONS[1:],
        "g.go": [f"package g\n\nfunc G{number}() {{}}\n" for number in range(1, len(VERSIONS))],
    }


def test_a_history_run_interrupted_while_it_holds_versions_accounts_for_every_file(
    settings: Settings, tmp_path: Path
) -> None:
    from parsefleet.reading.report import load_report, load_state

    repo = tmp_path / "repo"
    commits = _history(repo)
    assert settings.redis_url and settings.database_url

    def interrupt(tally: Tally) -> None:
        if len(tally.repositories) == 4:  # four commits read, the versions of three held
            raise KeyboardInterrupt

    submission = Submission(settings, settings.redis_url, settings.database_url, progress=interrupt)
    with pytest.raises(KeyboardInterrupt):
        submission.run(planned(plan_targets([repo], settings, history=len(commits)), settings))
    assert _sent_batches(settings) != []  # the first commit's batches went; the held ones never did
    commands.cancel(settings, submission.tally.run_id)  # what the CLI does on an interrupt: withdraw the queued
    with psycopg.connect(settings.database_url) as conn:
        assert load_state(conn, submission.tally.run_id).finished  # every batch has a result or a cancel
        report = load_report(conn, submission.tally.run_id)
    for language in report.languages:
        assert language.accounted, language  # seen = parsed + skipped + failed + cancelled
    assert sum(language.cancelled for language in report.languages) >= 6  # m.py and g.go of commits 2 to 4
