"""The configuration files parsefleet reads itself are read as git reads them, and the rest are
left to git: generated files, each read by ``plain_entries`` and by ``git config --list``."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from parsefleet.producer.git import Git
from parsefleet.producer.gitconfig import CONFIG_MAX_BYTES, plain_entries

_PLAIN = (
    b"[core]", b"[Core]", b'[remote "origin"]', b'[remote "Origin"]', b'[remote  "o r"]', b'[remote ""]',
    b'[filter "evil"]', b"[sec-tion]", b"\t[branch \"main\"] # c", b'[remote "caf\xc3\xa9"]', b"[core];c",
    b"url = https://h/x.git", b"\turl=https://h/x#frag", b"url = a  b ", b"bare", b"bare  ", b"bare = ",
    b"Clean = cat", b"clean = x ; y", b"x-y = 1", b"key = caf\xc3\xa9", b"key = v # it's \"q\"",
    b"repositoryformatversion = 0", b"smudge= c --f", b"", b"# comment", b"; comment", b"   ", b"\t# c \\",
    b"url=a==b", b"K2 =x", b"v = ;", b"v = #",
)  # fmt: skip
_ODD = (
    b"[a.b]", b"[ core ]", b"[core] x = 1", b'[url "x\\"y"]', b"[include]", b'[includeIf "gitdir:/x/"]',
    b"[extensions]", b"[1a]", b"[core", b'url = "quoted # x"', b"url = a\\\\b", b"url = a \\", b"1x = 2",
    b"x_y = 1", b"key # c", b"key=\tv", b"key = v\t", b"key = v\r", b"repositoryformatversion = 1",
    b'k = ""', b"garbage line", b"k = a\\tb", b"k\t= v", b"\xef\xbb\xbf[core]",
)  # fmt: skip


def _git_entries(git_dir: Path) -> list[tuple[bytes, bytes | None]] | None:
    """The repository file's entries as git lists them (``--local``: not the command's own)."""
    done = Git(git_dir, None, git_dir).run("config", "--list", "-z", "--local")
    if done is None or done.returncode != 0:
        return None
    entries = []
    for item in done.stdout.split(b"\0")[:-1]:
        key, newline, value = item.partition(b"\n")
        entries.append((key, value if newline else None))
    return entries


@pytest.fixture
def git_dir(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")], check=True, capture_output=True)
    return tmp_path / "r.git"


def test_a_generated_file_is_read_as_git_reads_it_or_left_to_git(git_dir: Path) -> None:
    chance = random.Random(20261204)
    accepted = declined = 0
    for _ in range(600):
        lines = [chance.choice(_ODD if chance.random() < 0.08 else _PLAIN) for _ in range(6)]
        start = [b"[core]"] if chance.random() < 0.8 else []
        data = b"\n".join([*start, *lines]) + (b"\n" if chance.random() < 0.7 else b"")
        (git_dir / "config").write_bytes(data)
        ours = plain_entries(git_dir)
        if ours is None:
            declined += 1
            continue
        accepted += 1
        assert ours == _git_entries(git_dir), data
    print(f"generated files: {accepted} read here, {declined} left to git")
    assert accepted >= 100 and declined >= 100  # both paths taken, so the comparison means something


def test_what_git_init_and_clone_write_is_read_here(tmp_path: Path) -> None:
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(work), str(clone)], check=True, capture_output=True)
    for git_dir in (work / ".git", clone / ".git"):
        ours = plain_entries(git_dir)
        assert ours is not None and ours == _git_entries(git_dir)
    assert (b"remote.origin.url", os.fsencode(work)) in (plain_entries(clone / ".git") or [])


def test_a_directory_that_is_not_plainly_a_repository_is_left_to_git(git_dir: Path, tmp_path: Path) -> None:
    assert plain_entries(git_dir) is not None
    (git_dir / "HEAD").write_bytes(b"not a ref\n")
    assert plain_entries(git_dir) is None
    (git_dir / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    (git_dir / "commondir").write_bytes(b"../elsewhere\n")
    assert plain_entries(git_dir) is None
    (git_dir / "commondir").unlink()
    (git_dir / "refs").rename(git_dir / "refs-gone")
    assert plain_entries(git_dir) is None
    (git_dir / "refs-gone").rename(git_dir / "refs")
    elsewhere = tmp_path / "elsewhere.cfg"
    elsewhere.write_bytes((git_dir / "config").read_bytes())
    (git_dir / "config").unlink()
    (git_dir / "config").symlink_to(elsewhere)  # git follows it: git reads it
    assert plain_entries(git_dir) is None
    (git_dir / "config").unlink()
    (git_dir / "config").write_bytes(b"[core]\n" + b"# padding\n" * (CONFIG_MAX_BYTES // 10))
    assert plain_entries(git_dir) is None


def test_a_driver_defined_in_an_included_file_is_still_made_inert(git_dir: Path) -> None:
    (git_dir / "more.cfg").write_bytes(b'[filter "Odd.Name"]\n\tclean = touch /tmp/marker\n')
    with (git_dir / "config").open("ab") as config:
        config.write(b"[include]\n\tpath = more.cfg\n")
    assert plain_entries(git_dir) is None
    git = Git(git_dir, None, git_dir)
    assert git.neutralise()
    _argv, env = git.invocation("status")
    assert ("filter.Odd.Name.clean", "") in {
        (env[f"GIT_CONFIG_KEY_{n}"], env[f"GIT_CONFIG_VALUE_{n}"]) for n in range(int(env["GIT_CONFIG_COUNT"]))
    }
