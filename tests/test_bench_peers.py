"""The bench's peers on one small file: CPython ast's definitions as the reference, ctags naming
them by scope, ast-grep by bare name, parsefleet's adapter, and the recall arithmetic."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from parsefleet.bench.corpus_files import BenchFile
from parsefleet.bench.peers import ast_definitions, peers, recall
from tests.conftest import IN_CI

SOURCE = b"""import functools

class A:
    @property
    def x(self):
        def inner():
            pass
        return 1

    class B:
        async def m(self): pass

@functools.cache
def f():
    class L:
        pass
"""
REFERENCE = {("A", 3), ("A.x", 5), ("A.x.inner", 6), ("A.B", 10), ("A.B.m", 11), ("f", 14), ("f.L", 15)}


def test_reference_names_definitions_by_their_enclosing_ones_at_the_keyword_line() -> None:
    assert ast_definitions(SOURCE) == REFERENCE
    assert ast_definitions(b"def broken(:\n") is None


def test_recall_counts_name_and_line_together() -> None:
    reference = {Path("a.py"): {("A", 3), ("A.x", 5)}, Path("b.py"): {("f", 1), ("g", 2)}}
    found = {Path("a.py"): {("A", 3), ("x", 5)}, Path("b.py"): {("f", 1), ("g", 3)}}
    assert recall(reference, found) == 0.5
    assert recall({}, found) == 0.0


def test_peers_on_one_file(tmp_path: Path) -> None:
    missing = [tool for tool in ("ctags",) if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (infra/dev/peer-packages.sh)"
        if IN_CI:
            pytest.fail(f"{message}: CI=true requires it", pytrace=False)
        pytest.skip(message)
    (tmp_path / "s.py").write_bytes(SOURCE)
    found = peers([BenchFile(tmp_path / "s.py", "python", SOURCE)], tmp_path)
    assert (found["python_definitions"], found["python_files"]) == (7, 1)
    assert found["parsefleet"]["python_recall"] == 1.0
    assert found["ctags"]["python_recall"] == 1.0 and found["ctags"]["version"].startswith("Universal Ctags")
    assert found["ctags"]["cpu_s"] > 0
    ast_grep = found["ast-grep"]  # the dev extra's ast-grep-cli: top-level names only (A, f)
    assert ast_grep["python_recall"] == pytest.approx(2 / 7) and ast_grep["version"].startswith("ast-grep")
