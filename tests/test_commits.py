"""Indexing commits through real processes: real git repositories built here, the real producer,
Redis, a Celery worker process and PostgreSQL. Every run is checked file by file: the store's
current view of the repository against ``git ls-tree`` of the indexed commit, and the blobs sent
against those the commit introduced."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from parsefleet.cli import commands
from parsefleet.cli.main import main
from parsefleet.contract.languages import language_for
from parsefleet.contract.settings import Settings
from parsefleet.producer.snapshot import DIRTY_NOTE
from parsefleet.reading.report import RepositoryReport, RunReport
from parsefleet.services.local_workers import LocalWorkers

pytestmark = pytest.mark.service

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *_IDENTITY, "-C", str(root), *args], capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def _commit(root: Path, files: dict[str, str | None], message: str = "change") -> str:
    """Write (or, for None, delete) ``files`` and commit them; the new commit's id."""
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD").strip()


def _repository(root: Path) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    _commit(
        root,
        {
            "app/main.py": "def main():\n    return 1\n",
            "app/util.py": "class Helper:\n    def help(self):\n        return 2\n",
            "app/old_name.py": "def renamed_later():\n    return 3\n",
            "tool.py": "def becomes_go():\n    pass\n",
            "srv/server.go": "package srv\n\nfunc Serve() {}\n",
            "lib/lib.rs": "pub fn lib() {}\n",
            "README.md": "not parsed\n",
        },
        "first",
    )
    return root


def _ls_tree(git_dir_or_tree: Path, commit: str) -> dict[str, str]:
    """path -> blob id of every supported file of ``commit``, as plain git lists it."""
    out = subprocess.run(
        ["git", "-C", str(git_dir_or_tree), "ls-tree", "-r", "-z", "--full-tree", commit],
        capture_output=True,
        check=True,
    ).stdout.decode()
    listing = {}
    for record in out.split("\0"):
        if record:
            meta, path = record.split("\t", 1)
            if language_for(path) is not None:
                listing[path] = meta.split()[2]
    return listing


def _view(database_url: str, name: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT f.path, f.blob_hash FROM files f JOIN repositories r ON r.id = f.repository_id WHERE r.root = %s",
            (name,),
        ).fetchall()
    return {str(path): bytes(blob).hex() for path, blob in rows}


def _sent_blobs(database_url: str, run_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(sum(sent), 0) FROM run_inputs WHERE run_id = %s", (run_id,)).fetchone()
    assert row is not None
    return int(row[0])


def _submit(settings: Settings, target: Path, *, rev: str | None = None, name: str | None = None) -> RunReport:
    options = commands.RunOptions(ci=False, progress=False, wait=True, revision=rev, name=name)
    report = commands.submit(settings, [target], options)
    assert report.state.finished
    for item in report.languages:
        assert item.accounted, item
        assert item.failed == 0, item
    return report


def _indexed(report: RunReport) -> RepositoryReport:
    assert len(report.indexed) == 1
    return report.indexed[0]


def _assert_view_is_commit(settings: Settings, name: str, git_dir: Path, commit: str) -> None:
    assert settings.database_url is not None
    assert _view(settings.database_url, name) == _ls_tree(git_dir, commit)


def test_commits_with_renames_deletions_and_a_language_change(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = _repository(tmp_path / "repo")
    name = str(repo)
    first = _git(repo, "rev-parse", "HEAD").strip()
    report = _submit(settings, repo)
    line = _indexed(report)
    assert (line.commit_id, line.mode, line.added, line.sent) == (first, "full", 6, 6)
    _assert_view_is_commit(settings, name, repo, first)

    _git(repo, "mv", "app/old_name.py", "app/new_name.py")
    _git(repo, "mv", "tool.py", "tool.go")
    second = _commit(
        repo,
        {"app/main.py": "def main():\n    return 10\n", "lib/lib.rs": None, "tool.go": "package tool\n\nfunc F() {}\n"},
    )
    report = _submit(settings, repo)
    line = _indexed(report)
    # renamed: old_name.py -> new_name.py (same blob); tool.py -> tool.go is a new file of another
    # language (the .go name is supported, its content new): git finds no rename across that change
    assert line.commit_id == second and line.mode == "incremental"
    assert (line.modified, line.deleted, line.renamed) == (1, 2, 1), line
    assert line.added == 1, line
    _assert_view_is_commit(settings, name, repo, second)
    # sent: the modified main.py and the new tool.go; the renamed file's blob was known
    assert settings.database_url is not None
    assert _sent_blobs(settings.database_url, report.state.run_id) == 2
    assert line.sent == 2 and line.known == 1

    report = _submit(settings, repo)  # nothing changed: nothing looked at, nothing sent
    line = _indexed(report)
    assert (line.mode, line.added, line.modified, line.deleted, line.renamed, line.sent) == (
        "incremental", 0, 0, 0, 0, 0,
    )  # fmt: skip
    assert sum(item.seen for item in report.languages) == 0
    _assert_view_is_commit(settings, name, repo, second)


def test_an_older_commit_by_rev_and_a_branch_moved_back(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = _repository(tmp_path / "repo")
    first = _git(repo, "rev-parse", "HEAD").strip()
    second = _commit(repo, {"app/extra.py": "def extra():\n    pass\n", "app/util.py": None})
    _submit(settings, repo)
    _assert_view_is_commit(settings, str(repo), repo, second)
    _git(repo, "branch", "-f", "old", first)
    report = _submit(settings, repo, rev="old")  # the branch points back: the store follows
    line = _indexed(report)
    assert (line.commit_id, line.mode, line.added, line.deleted) == (first, "incremental", 1, 1)
    assert (line.sent, line.known) == (1, 0)  # util.py of the first commit was never indexed
    _assert_view_is_commit(settings, str(repo), repo, first)


def test_a_force_push_whose_old_commit_is_gone_lists_the_whole_tree(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    source = _repository(tmp_path / "source")
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(source), str(mirror)], check=True)
    report = _submit(settings, mirror, rev="main")
    line = _indexed(report)
    assert line.name == str(source)  # a mirror is named by its origin
    gone = line.commit_id
    assert gone is not None
    _assert_view_is_commit(settings, str(source), mirror, gone)

    _git(source, "commit", "-q", "--amend", "-m", "rewritten")
    rewritten = _commit(source, {"app/main.py": "def main():\n    return 99\n"})
    _git(mirror, "fetch", "-q", "--force", "origin", "+refs/heads/*:refs/heads/*")
    _git(mirror, "reflog", "expire", "--expire=now", "--all")
    _git(mirror, "gc", "-q", "--prune=now")
    report = _submit(settings, mirror, rev="main")
    line = _indexed(report)
    assert line.commit_id == rewritten and line.mode == "full"
    assert line.note is not None and "not in the repository" in line.note
    assert (line.modified, line.sent) == (1, 1)
    _assert_view_is_commit(settings, str(source), mirror, rewritten)


def test_a_shallow_clone_missing_the_indexed_commit(settings: Settings, worker: LocalWorkers, tmp_path: Path) -> None:
    source = _repository(tmp_path / "source")
    _submit(settings, source, name="project")
    latest = _commit(source, {"app/main.py": "def main():\n    return 5\n"})
    latest = _commit(source, {"srv/server.go": "package srv\n\nfunc Serve2() {}\n"})
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{source}", str(shallow)], check=True)
    report = _submit(settings, shallow, name="project")
    line = _indexed(report)
    assert line.commit_id == latest and line.mode == "full"
    assert line.note is not None and "whole tree" in line.note
    assert (line.modified, line.sent, line.known) == (2, 2, 4)
    _assert_view_is_commit(settings, "project", shallow, latest)


def test_a_dirty_work_tree_is_indexed_as_it_is_and_a_plain_directory_forgets_deleted_files(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = _repository(tmp_path / "repo")
    (repo / "app" / "main.py").write_text("def main():\n    return 'uncommitted'\n")
    (repo / "lib" / "lib.rs").unlink()
    line = _indexed(_submit(settings, repo))
    assert (line.commit_id, line.mode, line.note) == (None, "walk", DIRTY_NOTE)
    assert settings.database_url is not None
    view = _view(settings.database_url, str(repo))
    assert "lib/lib.rs" not in view and len(view) == 5

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("def a():\n    pass\n")
    (plain / "b.py").write_text("def b():\n    pass\n")
    _submit(settings, plain)
    (plain / "b.py").unlink()
    line = _indexed(_submit(settings, plain))
    assert (line.mode, line.deleted, line.sent) == ("walk", 1, 0)
    assert set(_view(settings.database_url, str(plain))) == {"a.py"}


def test_a_repository_whose_configuration_tries_to_run_programs(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = _repository(tmp_path / "repo")
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    script.chmod(0o755)
    for key in ("core.fsmonitor", "filter.evil.clean", "filter.evil.smudge", "diff.external", "core.pager"):
        _git(repo, "config", key, str(script))
    (repo / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "pre-commit", "reference-transaction", "post-index-change"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    head = subprocess.run(
        ["git", *_IDENTITY, "-C", str(repo), "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
         "-c", "filter.evil.clean=cat", "add", ".gitattributes"],
        check=True,
    )  # fmt: skip
    assert head.returncode == 0
    subprocess.run(
        ["git", *_IDENTITY, "-C", str(repo), "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
         "commit", "-q", "-m", "attributes"],
        check=True,
    )  # fmt: skip
    marker.unlink(missing_ok=True)
    commit = (
        subprocess.run(
            ["git", "-C", str(repo), "-c", "core.fsmonitor=false", "rev-parse", "HEAD"], capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    _submit(settings, repo, rev="HEAD")
    _submit(settings, repo)
    assert not marker.exists()
    assert settings.database_url is not None
    assert _view(settings.database_url, str(repo)) == _ls_tree(repo, commit)


@pytest.mark.parametrize(
    "case",
    [
        ("plain", "HEAD", "not a git repository"),
        ("git", "no-such-branch", "unknown revision"),
        ("git", "--upload-pack=touch", "unknown revision"),
    ],
)
def test_bad_revisions_are_one_line_errors(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, str, str]
) -> None:
    make, rev, message = case
    target = _repository(tmp_path / "repo") if make == "git" else tmp_path / "plain"
    if make == "plain":
        target.mkdir()
        (target / "a.py").write_text("x = 1\n")
    assert settings.redis_url and settings.database_url
    code = main(
        [
            "submit",
            str(target),
            f"--rev={rev}",
            "--redis-url",
            settings.redis_url,
            "--database-url",
            settings.database_url,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_outlines_by_commit_while_kept_and_readers_follow_the_current_view(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    from dataclasses import replace

    from parsefleet.contract.errors import NotInIndex
    from parsefleet.reading.definitions import FindQuery, find_definitions
    from parsefleet.reading.outlines import load_outline
    from parsefleet.reading.repositories import repository_named

    repo = _repository(tmp_path / "repo")
    first = _git(repo, "rev-parse", "HEAD").strip()
    kept = replace(settings, kept_commits=2)
    _submit(kept, repo)
    _git(repo, "mv", "app/old_name.py", "app/new_name.py")
    second = _commit(repo, {"app/main.py": "def main_two():\n    return 2\n"})
    _submit(kept, repo)
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        repository = repository_named(conn, str(repo))
        with pytest.raises(NotInIndex):
            load_outline(conn, repository, "app/old_name.py")
        old = load_outline(conn, repository, "app/old_name.py", first[:10])
        assert [item.name for item in old.symbols] == ["renamed_later"]
        assert [item.name for item in load_outline(conn, repository, "app/main.py", first).symbols] == ["main"]
        assert [item.name for item in load_outline(conn, repository, "app/main.py").symbols] == ["main_two"]
        found = find_definitions(conn, FindQuery("renamed_later"))
        assert [item.path for item in found] == ["app/new_name.py"]
        assert find_definitions(conn, FindQuery("main")) == []

    _commit(repo, {"app/util.py": None})
    _commit(repo, {"srv/server.go": "package srv\n\nfunc Third() {}\n"})
    _submit(kept, repo)  # a third commit indexed: with two kept, the first passes out of retention
    with psycopg.connect(settings.database_url) as conn:
        repository = repository_named(conn, str(repo))
        with pytest.raises(NotInIndex):
            load_outline(conn, repository, "app/old_name.py", first)
        assert load_outline(conn, repository, "app/util.py", second).symbols


def _age_outlines(database_url: str, language: str) -> int:
    """Make every outline of ``language`` look as if an older parser version wrote it (as a grammar
    upgrade leaves them); how many blobs."""
    with psycopg.connect(database_url) as conn:
        hashes = [row[0] for row in conn.execute("SELECT hash FROM blobs WHERE language = %s", (language,))]
        for table, column in (("symbols", "blob_hash"), ("imports", "blob_hash"), ("blobs", "hash")):
            conn.execute(
                f"UPDATE {table} SET parser_version = 'a0/older' WHERE {column} = ANY(%s)",
                (hashes,),
            )
    return len(hashes)


@pytest.mark.parametrize("source", ["git", "plain"])
def test_status_counts_outdated_outlines_and_reindex_parses_them_again(
    settings: Settings, worker: LocalWorkers, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    from parsefleet.contract.versions import parser_version
    from parsefleet.reading.outdated import outdated_counts

    repo = _repository(tmp_path / "repo")
    if source == "plain":
        subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    other = _repository(tmp_path / "other")
    _submit(settings, repo)
    _submit(settings, other, name="other")
    assert settings.database_url is not None and settings.redis_url is not None
    aged = _age_outlines(settings.database_url, "python")
    assert aged == 4  # main, util, old_name, tool: the same blobs in both repositories
    with psycopg.connect(settings.database_url) as conn:
        assert outdated_counts(conn) == {"python": 4}
    urls = ["--redis-url", settings.redis_url, "--database-url", settings.database_url]
    assert main(["status", *urls]) == 0
    assert "outdated outlines (an older parser version): python 4 (parsefleet reindex)" in capsys.readouterr().out

    options = commands.RunOptions(ci=False, progress=False, wait=True)
    report = commands.reindex(settings, "python", str(repo), options)
    assert report is not None and report.state.finished
    assert {item.language: (item.seen, item.parsed) for item in report.languages} == {"python": (4, 4)}
    assert report.indexed == []  # the current view and its commit stay as they were
    with psycopg.connect(settings.database_url) as conn:
        assert outdated_counts(conn) == {}
        current = conn.execute(
            "SELECT count(*) FROM blobs WHERE language = 'python' AND parser_version = %s", (parser_version("python"),)
        ).fetchone()
        assert current == (4,)
    assert commands.reindex(settings, None, None, options) is None
    assert main(["reindex", "--language", "rust", *urls]) == 0
    assert "nothing to reindex" in capsys.readouterr().out


def test_history_mode_indexes_each_commit_with_only_the_blobs_it_introduced(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    from parsefleet.reading.outlines import load_outline
    from parsefleet.reading.repositories import repository_named

    repo = _repository(tmp_path / "repo")
    commits = [_git(repo, "rev-parse", "HEAD").strip()]
    for number in range(1, 5):
        commits.append(_commit(repo, {"app/main.py": f"def main_{number}():\n    return {number}\n"}))
    commits.append(_commit(repo, {"app/util.py": None, "srv/server.go": "package srv\n\nfunc Last() {}\n"}))
    report = _submit_history(settings, repo, ["--history", "4"])
    assert [line.commit_id for line in report.indexed] == commits[-4:]
    assert [line.mode for line in report.indexed] == ["full", "incremental", "incremental", "incremental"]
    assert [line.sent for line in report.indexed] == [6, 1, 1, 1]
    assert settings.database_url is not None
    _assert_view_is_commit(settings, str(repo), repo, commits[-1])
    with psycopg.connect(settings.database_url) as conn:
        repository = repository_named(conn, str(repo))
        for number, commit in enumerate(commits[-4:-1], start=2):
            names = [item.name for item in load_outline(conn, repository, "app/main.py", commit).symbols]
            assert names == [f"main_{number}"]

    more = _commit(repo, {"app/main.py": "def main_after():\n    pass\n"})
    report = _submit_history(settings, repo, ["--since", commits[-1]])
    assert [(line.commit_id, line.mode, line.sent) for line in report.indexed] == [(more, "incremental", 1)]


def _submit_history(settings: Settings, repo: Path, flags: list[str]) -> RunReport:
    from parsefleet.reading.report import load_report

    assert settings.redis_url and settings.database_url
    urls = ["--redis-url", settings.redis_url, "--database-url", settings.database_url]
    assert main(["submit", str(repo), "--wait", "--no-progress", *flags, *urls]) == 0
    with psycopg.connect(settings.database_url) as conn:
        return load_report(conn, None)


def test_a_blob_too_large_is_refused_unread_and_leaves_the_view(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    from dataclasses import replace

    repo = _repository(tmp_path / "repo")
    small = replace(settings, max_file_bytes=200)
    _commit(repo, {"big.py": "x = 1\n" * 100})
    report = commands.submit(small, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
    assert report.state.finished and all(item.accounted for item in report.languages)
    assert [(lang, kind, path) for lang, kind, path, _message in report.failed_files] == [
        ("python", "too-large", f"{repo}/big.py")
    ]
    assert settings.database_url is not None
    view = _view(settings.database_url, str(repo))
    assert "big.py" not in view and len(view) == 6
    assert _indexed(report).sent == 6


def test_a_cancelled_run_makes_its_repositories_list_the_whole_tree_next_time(
    settings: Settings, tmp_path: Path
) -> None:
    repo = _repository(tmp_path / "repo")
    head = _git(repo, "rev-parse", "HEAD").strip()
    queued = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=False))
    assert _indexed(queued).commit_id == head  # submitted, no worker yet: its batches wait
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT indexed_commit FROM repositories").fetchall() == [(head,)]
    commands.cancel(settings, queued.state.run_id)
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT indexed_commit FROM repositories").fetchall() == [(None,)]
    assert settings.redis_url is not None
    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1)
    fleet.start()
    try:
        line = _indexed(_submit(settings, repo))
    finally:
        fleet.stop()
    assert (line.mode, line.sent) == ("full", 6)  # what the cancelled run never had parsed
    _assert_view_is_commit(settings, str(repo), repo, head)
