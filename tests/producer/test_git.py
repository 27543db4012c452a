"""A target repository's git configuration never runs a program, and never redirects the listing.

Each test builds a repository whose configuration tries one way to make git run a program (the
program creates a marker file), checks that plain git really runs it (the attack is live), then
runs the same git command the way parsefleet does (``parsefleet.producer.git``) and checks that the
marker never appears.
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from parsefleet.producer.git import Git
from parsefleet.producer.walk import discover

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")


def _git(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Plain git, as a person (or parsefleet before this defence) would run it."""
    return subprocess.run(
        ["git", *_IDENTITY, "-C", str(root), *args], input=stdin, capture_output=True, check=False, timeout=60
    )


def _repository(root: Path, *, commits: int = 1) -> Path:
    """A repository with ``a.py`` committed ``commits`` times (changed each time)."""
    root.mkdir(parents=True)
    _git(root, "init", "-q")
    for number in range(commits):
        (root / "a.py").write_text(f"x = {number}\n")
        (root / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
        _git(root, "add", ".")
        _git(root, "commit", "-q", "-m", f"commit {number}")
    return root


def _configure(root: Path, *settings: tuple[str, str]) -> None:
    for key, value in settings:
        subprocess.run(["git", "-C", str(root), "config", key, value], check=True)


def _script(path: Path, marker: Path) -> str:
    """An executable that creates ``marker`` and prints a line; returns its path."""
    path.write_text(f"#!/bin/sh\ntouch {marker}\necho x\n")
    path.chmod(0o755)
    return str(path)


def _live_then_inert(root: Path, marker: Path, *args: str, stdin: bytes | None = None) -> None:
    """Plain git runs the repository's program; parsefleet's git does not."""
    _git(root, *args, stdin=stdin)
    assert marker.exists(), f"the attack is not live: plain `git {' '.join(args)}` ran nothing"
    marker.unlink()
    repository = Git.for_target(root)
    assert repository is not None
    repository.run(*args, stdin=stdin)
    assert not marker.exists(), f"`git {' '.join(args)}` ran the repository's program"


def test_fsmonitor_does_not_run_when_the_producer_lists_a_repository(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    _configure(root, ("core.fsmonitor", f"touch {marker}; echo"))
    _git(root, "ls-files")
    assert marker.exists()
    marker.unlink()
    assert [item.path for item in discover(root)] == ["a.py"]
    assert not marker.exists()


def test_fsmonitor_pulled_in_by_include_and_include_if_does_not_run(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    (root / "evil.inc").write_text(f"[core]\n\tfsmonitor = touch {marker}; echo\n")  # content of the tree
    _configure(root, ("include.path", "../evil.inc"))
    _git(root, "ls-files")
    assert marker.exists()
    marker.unlink()
    assert [item.path for item in discover(root)] == ["a.py"]
    assert not marker.exists()
    _configure(root, ("--unset", "include.path"), ("includeIf.gitdir:/.path", "../evil.inc"))
    _live_then_inert(root, marker, "ls-files")


def test_hooks_in_the_repository_and_core_hooks_path_do_not_run(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg", "post-commit", "reference-transaction"):
        _script(hooks / name, marker)
        _script(root / ".git" / "hooks" / name, marker)
    _live_then_inert(root, marker, *_IDENTITY, "commit", "-q", "--allow-empty", "-m", "x")  # .git/hooks
    _configure(root, ("core.hooksPath", str(hooks)))
    _live_then_inert(root, marker, *_IDENTITY, "commit", "-q", "--allow-empty", "-m", "y")


@pytest.mark.parametrize(
    ("key", "args"),
    [
        ("filter.evil.clean", ("hash-object", "a.py")),
        ("filter.evil.smudge", ("cat-file", "--filters", "HEAD:a.py")),
        ("filter.evil.process", ("cat-file", "--filters", "HEAD:a.py")),
        ("diff.evil.textconv", ("cat-file", "--textconv", "HEAD:a.py")),
        ("diff.evil.command", ("diff", "HEAD~", "HEAD")),
        ("diff.external", ("diff", "HEAD~", "HEAD")),
    ],
)
def test_filters_and_diff_drivers_named_by_gitattributes_do_not_run(
    tmp_path: Path, key: str, args: tuple[str, ...]
) -> None:
    root = _repository(tmp_path / "repo", commits=2)
    marker = tmp_path / "PWNED"
    _configure(root, (key, _script(tmp_path / "evil.sh", marker)))
    _live_then_inert(root, marker, *args)


def test_a_driver_in_an_included_file_with_an_odd_name_does_not_run(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    (root / ".gitattributes").write_text("*.py filter=ev=il.x\n")
    program = _script(tmp_path / "evil.sh", marker)
    (root / ".git" / "more.cfg").write_text(f'[filter "ev=il.x"]\n\tclean = {program}\n')
    _configure(root, ("include.path", "more.cfg"))
    _live_then_inert(root, marker, "hash-object", "a.py")


def test_ssh_command_and_credential_programs_do_not_run(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    program = _script(tmp_path / "evil.sh", marker)
    _configure(root, ("remote.origin.url", "ssh://git.example.invalid/x"), ("core.sshCommand", program))
    _live_then_inert(root, marker, "ls-remote", "origin")
    ask = b"protocol=https\nhost=git.example.invalid\n\n"
    _configure(root, ("core.askPass", program))
    _live_then_inert(root, marker, "credential", "fill", stdin=ask)
    _configure(root, ("--unset", "core.askPass"), ("credential.helper", f"!touch {marker}"))
    _live_then_inert(root, marker, "credential", "fill", stdin=ask)


def test_upload_pack_hook_of_a_repository_fetched_from_does_not_run(tmp_path: Path) -> None:
    hostile = _repository(tmp_path / "hostile")
    marker = tmp_path / "PWNED"
    _configure(hostile, ("uploadpack.packObjectsHook", _script(tmp_path / "evil.sh", marker)))
    fetching = _repository(tmp_path / "repo")
    repository = Git.for_target(fetching)
    assert repository is not None
    done = repository.run("fetch", str(hostile))
    assert done is not None and done.returncode != 0  # no transport at all: protocol.allow=never
    assert not marker.exists()


def test_the_pager_does_not_run_even_on_a_terminal(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    program = _script(tmp_path / "evil.sh", marker)
    _configure(root, ("core.pager", program), ("pager.log", program))

    def on_terminal(argv: list[str], env: dict[str, str] | None) -> None:
        leader, follower = pty.openpty()
        try:
            subprocess.run(argv, env=env, cwd=root, stdout=follower, stderr=follower, timeout=60, check=False)
        finally:
            os.close(leader)
            os.close(follower)

    on_terminal(["git", "log"], None)
    assert marker.exists()
    marker.unlink()
    repository = Git.for_target(root)
    assert repository is not None
    on_terminal(*repository.invocation("log"))
    assert not marker.exists()


def test_core_worktree_does_not_redirect_the_listing(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "foreign.py").write_text("stolen = 1\n")
    (root / "untracked.py").write_text("u = 1\n")
    _configure(root, ("core.worktree", str(foreign)))
    assert {item.path for item in discover(root)} == {"a.py", "untracked.py"}
    (root / "sub").mkdir()
    (root / "sub" / "b.py").write_text("b = 1\n")
    assert {item.path for item in discover(root / "sub")} == {"b.py"}  # a target inside a checkout


def test_a_repository_owned_by_another_user_is_listed_by_git(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the repository to another user")
    root = _repository(tmp_path / "repo")
    (root / ".gitignore").write_text("ignored.py\n")
    (root / "ignored.py").write_text("i = 1\n")
    for path in [root, *root.rglob("*")]:
        os.lchown(path, 65534, 65534)
    assert _git(root, "ls-files").returncode != 0  # git's own refusal (safe.directory)
    assert {item.path for item in discover(root)} == {"a.py"}  # listed by git: .gitignore honoured
