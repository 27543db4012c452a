"""Reading a repository from git's objects (parsefleet.producer.tree), on real repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from parsefleet.contract.settings import Settings
from parsefleet.producer.git import Git
from parsefleet.producer.snapshot import snapshot_of
from parsefleet.producer.tree import open_repository, without_credentials
from parsefleet.producer.walk import discover

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *_IDENTITY, "-C", str(root), *args], capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def _repository(root: Path) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    (root / "a.py").write_text("x = 1\n")
    (root / "sub").mkdir()
    (root / "sub" / "b.go").write_text("package sub\n")
    (root / "notes.txt").write_text("not listed\n")
    (root / "link.py").symlink_to("a.py")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "one")
    return root


def test_the_tree_is_git_s_own_listing_with_blob_ids_and_sizes(tmp_path: Path) -> None:
    root = _repository(tmp_path / "r")
    repository = open_repository(root)
    assert repository is not None and not repository.bare
    head = repository.resolve("HEAD")
    entries = {entry.path: entry for entry in repository.tree(head)}
    assert set(entries) == {"a.py", "link.py", "sub/b.go"}
    expected = _git(root, "rev-parse", "HEAD:a.py").strip()
    assert entries["a.py"].blob.hex() == expected
    assert repository.sizes([entries["a.py"].blob]) == {entries["a.py"].blob: 6}
    assert repository.has_files(head)
    assert entries["link.py"].skip == "symlink" and entries["a.py"].skip is None
    contents = repository.contents([entries["a.py"].blob, entries["sub/b.go"].blob])
    assert contents == {entries["a.py"].blob: b"x = 1\n", entries["sub/b.go"].blob: b"package sub\n"}
    inner = open_repository(root / "sub")
    assert inner is not None and inner.prefix == "sub"
    assert [entry.path for entry in inner.tree(head)] == ["b.go"]


def test_changes_name_renames_deletions_and_a_language_change(tmp_path: Path) -> None:
    root = _repository(tmp_path / "r")
    first = _git(root, "rev-parse", "HEAD").strip()
    _git(root, "mv", "a.py", "moved.py")
    (root / "sub" / "b.go").unlink()
    (root / "c.rs").write_text("fn c() {}\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "two")
    repository = open_repository(root)
    assert repository is not None
    changes = repository.changes(first, repository.resolve("HEAD"))
    assert changes is not None
    found = sorted((change.kind, change.path, change.old_path) for change in changes)
    # link.py still points at a.py: a symlink's blob is its target's name, unchanged
    assert found == [("A", "c.rs", None), ("D", "sub/b.go", None), ("R", "moved.py", "a.py")]
    added = next(change for change in changes if change.kind == "A")
    assert added.entry is not None and added.entry.size_bytes == len("fn c() {}\n")


def test_a_bare_mirror_is_read_and_named_by_its_origin_without_credentials(tmp_path: Path) -> None:
    source = _repository(tmp_path / "r")
    mirror = tmp_path / "m.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(source), str(mirror)], check=True)
    repository = open_repository(mirror)
    assert repository is not None and repository.bare
    assert repository.remote_url() == str(source)
    assert {entry.path for entry in repository.tree(repository.resolve("HEAD"))} == {"a.py", "link.py", "sub/b.go"}
    assert repository.commit_of("no-such-branch") is None
    assert repository.commit_of("--output=/tmp/x") is None
    assert without_credentials("https://user:secret@example.com/x.git") == "https://example.com/x.git"


def test_objects_from_elsewhere_are_not_read_from_git(tmp_path: Path) -> None:
    source = _repository(tmp_path / "r")
    borrowed = tmp_path / "shared.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--shared", str(source), str(borrowed)], check=True)
    assert (borrowed / "objects" / "info" / "alternates").exists()
    assert open_repository(borrowed) is None
    pointer = tmp_path / "pointer"
    pointer.mkdir()
    (pointer / ".git").write_text(f"gitdir: {source / '.git'}\n")
    (pointer / "z.py").write_text("z = 1\n")
    assert open_repository(pointer) is None


def test_a_commit_without_supported_files_has_none(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "README.md").write_text("words\n")
    (root / ".py").write_text("a name, no extension\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "docs")
    repository = open_repository(root)
    assert repository is not None
    head = repository.resolve("HEAD")
    assert not repository.has_files(head) and repository.tree(head) == []


def test_a_large_tree_is_searched_as_git_lists_it_and_a_name_at_its_end_is_found(tmp_path: Path) -> None:
    """``has_files`` reads ls-tree's output in chunks and stops at the first supported name: the
    only one here comes after 200 KiB of other names, across chunk boundaries."""
    root = tmp_path / "big"
    root.mkdir()
    _git(root, "init", "-q")
    for index in range(4000):
        (root / f"note-{index:05d}-{'x' * 40}.txt").write_text("")
    (root / "zz.py").write_text("x = 1\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "many")
    repository = open_repository(root)
    assert repository is not None
    head = repository.resolve("HEAD")
    assert repository.has_files(head)
    (root / "zz.py").unlink()
    _git(root, "commit", "-q", "-a", "-m", "none left")
    assert not repository.has_files(repository.resolve("HEAD"))


def test_a_branch_without_a_commit_is_told_from_the_ref_files_and_any_other_head_from_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("x = 1\n")
    repository = open_repository(root)
    assert repository is not None
    started: list[tuple[str, ...]] = []
    run = Git.run

    def counted(git: Git, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes] | None:
        started.append(args)
        return run(git, *args, stdin=stdin)

    monkeypatch.setattr(Git, "run", counted)
    assert repository.head() is None
    assert started == []  # no git process for a fresh repository's HEAD
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "one")
    commit = _git(root, "rev-parse", "HEAD").strip()
    assert repository.head() == commit
    _git(root, "pack-refs", "--all")  # the branch now lives in packed-refs only
    assert not (root / ".git" / "refs" / "heads" / "main").exists()
    assert repository.head() == commit
    _git(root, "checkout", "-q", "--orphan", "release-1.0")  # a name left to git, without a commit
    assert repository.head() is None
    _git(root, "checkout", "-q", "--detach", commit)
    assert repository.head() == commit
    assert len(started) == 4


def test_one_status_tells_a_work_tree_s_commit_and_whether_a_parsed_file_differs(tmp_path: Path) -> None:
    root = _repository(tmp_path / "r")
    commit = _git(root, "rev-parse", "HEAD").strip()
    repository = open_repository(root)
    assert repository is not None
    assert repository.state() == (commit, False)
    (root / "notes.txt").write_text("changed, not parsed\n")
    (root / "new.md").write_text("untracked, not parsed\n")
    assert repository.state() == (commit, False)
    (root / "sub" / "with space.go").write_text("package sub\n")  # untracked, parsed
    assert repository.state() == (commit, True)
    (root / "sub" / "with space.go").unlink()
    (root / "a.py").write_text("x = 2\n")  # tracked, changed
    assert repository.state() == (commit, True)
    _git(root, "add", "a.py")  # staged
    assert repository.state() == (commit, True)
    mirror = tmp_path / "mirror.git"
    _git(tmp_path, "clone", "-q", "--mirror", str(root), str(mirror))
    bare = open_repository(mirror)
    assert bare is not None and bare.state() == (commit, False)


def test_blobs_are_sized_and_read_in_one_pass_the_too_large_read_past_and_the_missing_left_out(
    tmp_path: Path,
) -> None:
    root = _repository(tmp_path / "r")
    for number in range(150):  # enough ids that git's input is written on a thread of its own
        (root / f"m{number}.py").write_text(f"x = {number}\n" + "#" * number + "\n")
    (root / "big.py").write_text("y = 1\n" * 100)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "more")
    repository = open_repository(root)
    assert repository is not None
    entries = {entry.path: entry for entry in repository.tree(repository.resolve("HEAD"))}
    missing = bytes(20)
    wanted = [entries["big.py"].blob, missing, *(entries[f"m{n}.py"].blob for n in range(150))]
    read = repository.blobs(wanted, max_bytes=300)
    assert read[entries["big.py"].blob] == (600, None)
    assert missing not in read
    assert all(
        read[entries[f"m{n}.py"].blob] == (len(f"x = {n}\n") + n + 1, (root / f"m{n}.py").read_bytes())
        for n in range(150)
    )
    assert repository.blobs([], max_bytes=300) == {}


def test_a_small_tree_is_listed_up_front_in_one_git_process_and_a_large_one_left_to_the_run(tmp_path: Path) -> None:
    root = _repository(tmp_path / "r")
    snapshot = snapshot_of(root, Settings())
    assert snapshot.repository is not None and snapshot.commit is not None
    assert not snapshot.lazy and snapshot.tree == snapshot.repository.tree(snapshot.commit)
    assert [entry.path for entry in snapshot.listing()] == ["a.py", "link.py", "sub/b.go"]
    for number in range(1000):  # a listing of about 80 KB
        (root / f"module_number_{number:04d}.py").write_text(f"x = {number}\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "more")
    large = snapshot_of(root, Settings())
    assert large.lazy and large.nonempty and large.tree == []
    assert large.repository is not None and large.repository.small_tree(str(large.commit)) is None
    assert len(large.listing()) == 1003


def test_a_tree_and_a_walk_list_their_files_in_the_byte_order_of_their_paths(tmp_path: Path) -> None:
    """What a resumed run relies on to go on after the last path read (producer/submission.py)."""
    root = tmp_path / "r"
    root.mkdir()
    _git(root, "init", "-q")
    names = [
        b"a.py",
        b"a-b.py",
        b"a/b.py",
        b"a0.py",
        b"ab/c.py",
        b"ab-.py",
        b"\xc3\xa9.py",
        b"\xee\x80\x80.py",
        b"\xff.py",
        b"Z.py",
    ]
    for name in names:
        path = root / os.fsdecode(name)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x = 1\n")
    walked = [os.fsencode(item.path) for item in discover(root)]
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "one")
    repository = open_repository(root)
    assert repository is not None
    tree = [os.fsencode(entry.path) for entry in repository.tree(repository.resolve("HEAD"))]
    assert walked == tree == sorted(names)
