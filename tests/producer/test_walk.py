import os
import subprocess
from pathlib import Path

import pytest

from parsefleet.contract.errors import TargetNotFound, TargetUnreadable
from parsefleet.producer.submission import blob_hash
from parsefleet.producer.walk import discover, is_generated, read_source


def _tree(root: Path) -> None:
    files = {
        "pkg/mod.py": "x = 1\n",
        "pkg/sub dir/ünï code.go": "package p\n",
        "src/lib.rs": "fn main() {}\n",
        "vendor/dep/dep.go": "package dep\n",
        "node_modules/m/x.py": "y = 2\n",
        "README.md": "# not source\n",
        "ignored/skip.py": "z = 3\n",
        "-leading-dash.py": "w = 4\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".gitignore").write_text("ignored/\n")
    (root / "link.py").symlink_to(root / "pkg/mod.py")
    (root / "passwd.py").symlink_to("/etc/passwd")
    os.mkfifo(root / "fifo.py")


def _by_path(root: Path) -> dict[str, str | None]:
    return {item.path: item.skip for item in discover(root)}


def test_walk_outside_git_skips_with_reasons(tmp_path: Path) -> None:
    _tree(tmp_path)
    seen = _by_path(tmp_path)
    assert seen["pkg/mod.py"] is None
    assert seen["pkg/sub dir/ünï code.go"] is None
    assert seen["src/lib.rs"] is None
    assert seen["-leading-dash.py"] is None
    assert seen["link.py"] == "symlink"
    assert seen["passwd.py"] == "symlink"
    assert seen["fifo.py"] == "not-regular"
    assert "README.md" not in seen
    assert "ignored/skip.py" not in seen  # the walk honours .gitignore as git does
    assert seen["vendor/dep/dep.go"] == seen["node_modules/m/x.py"] == "vendored"  # counted, as in a checkout
    included = {item.path: item.skip for item in discover(tmp_path, include_vendored=True)}
    assert included["vendor/dep/dep.go"] is included["node_modules/m/x.py"] is None


def test_a_linked_work_tree_is_listed_by_git(tmp_path: Path) -> None:
    main = tmp_path / "main"
    (main / "pkg").mkdir(parents=True)
    (main / "pkg" / "a.py").write_text("a = 1\n")
    (main / ".gitignore").write_text("ignored.py\n")
    identity = ["-c", "user.name=t", "-c", "user.email=t@x"]
    subprocess.run(["git", "init", "-q", str(main)], check=True)
    subprocess.run(["git", "-C", str(main), "add", "."], check=True)
    subprocess.run(["git", "-C", str(main), *identity, "commit", "-q", "-m", "1"], check=True)
    linked = tmp_path / "linked"
    subprocess.run(["git", "-C", str(main), "worktree", "add", "-q", str(linked)], check=True)  # .git is a file
    (linked / "ignored.py").write_text("i = 1\n")
    (linked / "new.py").write_text("n = 1\n")
    assert _by_path(linked) == {"pkg/a.py": None, "new.py": None}


def test_walk_outside_git_honours_every_gitignore_under_the_root(tmp_path: Path) -> None:
    files = ["a.py", "build/b.py", "sub/x.gen.py", "sub/keep.gen.py", "sub/deep/y.gen.py", "sub/top.py",
             "sub/deep/top.py", "nested/repo.py", "nested/local.py"]  # fmt: skip
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "sub" / ".gitignore").write_text("*.gen.py\n!keep.gen.py\n/top.py\n")
    subprocess.run(["git", "init", "-q", str(tmp_path / "nested")], check=True)  # a checkout inside the tree
    (tmp_path / "nested" / ".gitignore").write_text("local.py\n")
    assert sorted(_by_path(tmp_path)) == ["a.py", "nested/repo.py", "sub/deep/top.py", "sub/keep.gen.py"]


def test_git_tree_lists_tracked_and_untracked_but_honours_gitignore(tmp_path: Path) -> None:
    _tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "pkg", "src", "vendor"], check=True)
    seen = _by_path(tmp_path)
    assert seen["pkg/mod.py"] is None
    assert seen["-leading-dash.py"] is None  # untracked, not ignored
    assert "ignored/skip.py" not in seen
    assert seen["vendor/dep/dep.go"] == "vendored"
    assert seen["link.py"] == "symlink"


def test_symlinked_directory_resolving_outside_root_is_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("s = 1\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "ok.py").write_text("a = 1\n")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    seen = _by_path(root)
    assert seen == {"ok.py": None}


def test_missing_and_non_directory_targets_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFound):
        list(discover(tmp_path / "nope"))
    (tmp_path / "file.py").write_text("x = 1\n")
    with pytest.raises(TargetUnreadable):
        list(discover(tmp_path / "file.py"))


def test_read_source_refuses_fifo_and_caps_size(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    with pytest.raises(OSError, match="not a regular file"):
        read_source(tmp_path, "pipe.py", 100)
    (tmp_path / "big.py").write_bytes(b"x" * 101)
    assert read_source(tmp_path, "big.py", 100) is None
    assert read_source(tmp_path, "big.py", 101) == b"x" * 101
    (tmp_path / "link.py").symlink_to(tmp_path / "big.py")
    with pytest.raises(OSError):
        read_source(tmp_path, "link.py", 1000)


def test_generated_marker_is_found_only_in_the_head() -> None:
    assert is_generated(b"// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n")
    assert is_generated(b"# Generated by the protocol buffer compiler.  DO NOT EDIT!\n")
    assert not is_generated(b"package x\n" + b"\n" * 5000 + b"// Code generated by x. DO NOT EDIT.\n")
    assert not is_generated(b'WARNING = "Code generated by x. DO NOT EDIT."\n')  # the words, not a marker line
    assert not is_generated(b"\n" * 4090 + b"// Code generated by x. DO NOT EDIT.\n")  # straddles the head's end


def test_blob_hash_matches_git(tmp_path: Path) -> None:
    content = b"fn main() {}\n\x00\xff"
    (tmp_path / "f.rs").write_bytes(content)
    git = subprocess.run(["git", "hash-object", str(tmp_path / "f.rs")], capture_output=True, check=True, text=True)
    assert blob_hash(content).hex() == git.stdout.strip()


def test_a_target_git_ignores_is_walked(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("corpus/\n")
    target = tmp_path / "corpus" / "set"
    target.mkdir(parents=True)
    (target / "a.py").write_text("a = 1\n")
    assert _by_path(target) == {"a.py": None}
    assert _by_path(tmp_path) == {}
