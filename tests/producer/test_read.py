"""Nothing outside a target's root is read: not through a directory swapped for a symlink after the
listing, not through a hard link; ordinary checkouts are read as before."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from parsefleet.producer.walk import HardLinked, LinkOnPath, SourceReader, discover, read_source

_SECRET = b"secret = 'outside the root'\n"


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    (outside / "pkg").mkdir(parents=True)
    (outside / "pkg" / "mod.py").write_bytes(_SECRET)
    (outside / "mod.py").write_bytes(_SECRET)
    return outside


@pytest.mark.parametrize("git", [False, True], ids=["walk", "git"])
def test_a_directory_swapped_for_a_symlink_after_listing_is_not_followed(tmp_path: Path, git: bool) -> None:
    outside = _outside(tmp_path)
    root = tmp_path / "repo"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("inside = 1\n")
    if git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    listed = [item.path for item in discover(root) if item.skip is None]
    assert listed == ["src/pkg/mod.py"]
    # the race, made deterministic: between listing and reading, a directory becomes a symlink
    (root / "src").rename(root / "src.orig")
    (root / "src").symlink_to(outside, target_is_directory=True)
    with pytest.raises(LinkOnPath):
        read_source(root, "src/pkg/mod.py", 1 << 20)
    (root / "src").unlink()
    (root / "src.orig").rename(root / "src")
    (root / "src" / "pkg").rename(root / "src" / "pkg.orig")
    (root / "src" / "pkg").symlink_to(outside / "pkg", target_is_directory=True)  # the last directory
    with pytest.raises(LinkOnPath):
        read_source(root, "src/pkg/mod.py", 1 << 20)
    (root / "src" / "pkg").unlink()
    (root / "src" / "pkg.orig").rename(root / "src" / "pkg")
    (root / "src" / "pkg" / "mod.py").unlink()
    (root / "src" / "pkg" / "mod.py").symlink_to(outside / "mod.py")  # the file itself
    with pytest.raises(LinkOnPath):
        read_source(root, "src/pkg/mod.py", 1 << 20)


def test_a_root_that_is_a_symlink_given_by_the_operator_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "d").mkdir(parents=True)
    (real / "d" / "a.py").write_text("a = 1\n")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert read_source(tmp_path / "alias", "d/a.py", 100) == b"a = 1\n"


@pytest.mark.parametrize("git", [False, True], ids=["walk", "git"])
def test_a_hard_link_to_a_file_outside_is_skipped_unless_asked(tmp_path: Path, git: bool) -> None:
    outside = _outside(tmp_path)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "plain.py").write_text("p = 1\n")
    os.link(outside / "mod.py", root / "linked.py")
    if git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert {item.path: item.skip for item in discover(root)} == {"plain.py": None, "linked.py": "hardlink"}
    followed = {item.path: item.skip for item in discover(root, follow_hardlinks=True)}
    assert followed == {"plain.py": None, "linked.py": None}
    with pytest.raises(HardLinked):  # linked after the listing: refused when read
        read_source(root, "linked.py", 1 << 20)
    assert read_source(root, "linked.py", 1 << 20, follow_hardlinks=True) == _SECRET


def test_an_ordinary_checkout_has_no_hard_links(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "pkg").mkdir(parents=True)
    for number in range(20):
        (source / "pkg" / f"m{number}.py").write_text(f"m = {number}\n")
    subprocess.run(["git", "init", "-q", str(source)], check=True)
    subprocess.run(["git", "-C", str(source), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "1"], check=True
    )
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--local", str(source), str(clone)], check=True)  # objects hard-linked
    for root in (source, clone):
        listed = list(discover(root))
        assert len(listed) == 20 and all(item.skip is None for item in listed), listed
        assert all(read_source(root, item.path, 100) for item in listed)


def test_reading_costs_a_few_microseconds_a_file(tmp_path: Path) -> None:
    """Prints the per-file cost of the producer's reader against a plain open + read (docs/security.md)."""
    paths = []
    for number in range(3000):
        relative = f"a/b/c/d{number % 30:02d}/m{number:05d}.py"
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x = 1\n" * 300)
        paths.append(relative)
    paths.sort()  # as a listing comes

    def plain(relative: str) -> bytes:
        with open(tmp_path / relative, "rb") as handle:
            return handle.read()

    def timed(read: Callable[[str], bytes | None]) -> float:
        best = float("inf")
        for _round in range(7):
            start = time.perf_counter()
            for relative in paths:
                read(relative)
            best = min(best, time.perf_counter() - start)
        return best / len(paths) * 1e6

    with SourceReader(tmp_path) as reader:
        safe_us = timed(lambda relative: reader.read(relative, 8 << 20))
    plain_us = timed(plain)
    print(f"SourceReader {safe_us:.1f} µs a file, open + read {plain_us:.1f} µs (3,000 files at depth 5)")
    assert safe_us < plain_us + 50
