"""The files a benchmark runs on: a corpus of ``make corpus``, or a small seeded stand-in."""

from __future__ import annotations

import random
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from parsefleet.contract.errors import CorpusError
from parsefleet.contract.languages import language_for

__all__ = ["BenchFile", "load_profile"]

_FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
_TINY_STDLIB_FILES = 40
_SEED = 20261127


@dataclass(frozen=True, slots=True)
class BenchFile:
    """A file of the benchmark, with its content in memory."""

    path: Path
    language: str
    content: bytes


def load_profile(profile: str, corpus_dir: Path, scratch: Path) -> tuple[Path, list[BenchFile]]:
    """Return the directory to submit and its files for ``profile`` (ts2-200, large or tiny).

    ``tiny`` (also the stand-in when a corpus is not built) is the repository's fixtures plus a
    seeded selection of the CPython standard library, copied under ``scratch``.
    """
    root = corpus_dir / profile
    if profile != "tiny" and (root / "MANIFEST.json").exists():
        return root, _read_tree(root)
    if profile not in {"tiny", "ts2-200", "large"}:
        raise CorpusError(f"unknown profile {profile!r}: use ts2-200, large or tiny")
    return _tiny(scratch)


def _read_tree(root: Path) -> list[BenchFile]:
    files = []
    for path in sorted(root.rglob("*")):
        language = language_for(path)
        if language is not None and path.is_file() and not path.is_symlink():
            files.append(BenchFile(path, language, path.read_bytes()))
    return files


def _tiny(scratch: Path) -> tuple[Path, list[BenchFile]]:
    target = scratch / "tiny"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(_FIXTURES, target / "fixtures", symlinks=True)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    candidates = sorted(
        path
        for path in stdlib.glob("*.py")
        if path.is_file() and not path.is_symlink() and "bad" not in path.name and path.stat().st_size < 200_000
    )
    (target / "stdlib").mkdir()
    for path in random.Random(_SEED).sample(candidates, min(_TINY_STDLIB_FILES, len(candidates))):
        shutil.copyfile(path, target / "stdlib" / path.name)
    return target, _read_tree(target)
