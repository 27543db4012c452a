"""Parity between the tree-sitter outline and a reference outliner (CPython's ast for Python)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from parsefleet.cli.main import main
from parsefleet.contract.outline import Outline, SymbolKind, Visibility
from parsefleet.parity.comparison import (
    NO_REFERENCE,
    REFERENCES,
    Aspect,
    Cause,
    Reference,
    compare_corpus,
    compare_file,
    render,
)
from parsefleet.workers.languages.python_reference import reference_outline

FIXTURES = Path(__file__).parents[1] / "fixtures" / "python"

CLEAN = b'''"""A module."""
import os

LIMIT = 10
name: str = "x"
a = b = 1


class Shelf:
    size = 3

    @property
    def width(self) -> int:
        def inner() -> int:
            return 1

        return inner()


async def fetch() -> None:
    pass


if os.name == "nt":
    SEP = "\\\\"
'''


def _edited(edit: str) -> Reference:
    """A fake reference: ast's outline with one deliberate edit."""

    def outline(source: bytes) -> Outline | None:
        expected = reference_outline(source)
        if expected is None:
            return None
        symbols = list(expected.symbols)
        index = next(i for i, symbol in enumerate(symbols) if symbol.qualified_name == "Shelf.width")
        if edit == "drop":
            del symbols[index]
        elif edit == "kind":
            symbols[index] = symbols[index]._replace(kind=SymbolKind.FUNCTION)
        elif edit == "line":
            symbols[index] = symbols[index]._replace(start_line=symbols[index].start_line + 1)
        elif edit == "add":
            symbols.append(symbols[index]._replace(qualified_name="Shelf.ghost", name="ghost"))
        elif edit == "end":
            symbols[index] = symbols[index]._replace(end_line=symbols[index].end_line + 1)
        elif edit == "visibility":
            symbols[index] = symbols[index]._replace(visibility=Visibility.PRIVATE)
        elif edit == "import":
            return replace(expected, imports=(expected.imports[0]._replace(alias="operating_system"),))
        return replace(expected, symbols=tuple(symbols))

    return Reference("edited ast", outline)


def test_clean_file_agrees_fully() -> None:
    result = compare_file("python", CLEAN)
    assert result.disagreements == ()
    assert result.compared == result.agreed == 9
    assert not result.partial
    assert result.failed is None


def test_clean_fixture_agrees_fully() -> None:
    result = compare_file("python", (FIXTURES / "inventory.py").read_bytes())
    assert result.compared > 0
    assert result.agreed == result.compared
    assert not result.partial


def test_committed_fixtures_are_classified(tmp_path: Path) -> None:
    """broken.py is rejected by ast; tree-sitter reports errors on lone CRs and latin-1 identifiers."""
    shutil.copytree(FIXTURES, tmp_path / "python")
    report = compare_corpus(tmp_path, ["python"])
    (python,) = report.languages
    assert python.files == 4
    assert python.partial_files == 2  # classic_mac.py, latin1.py (broken.py is not compared)
    assert python.failed_files == {Cause.REFERENCE_FAILED: 1}
    assert set(python.disagreements) == {Cause.REFERENCE_FAILED, Cause.TREE_SITTER_PARTIAL}
    partial = {item.path for item in python.disagreements[Cause.TREE_SITTER_PARTIAL]}
    assert partial == {"python/classic_mac.py", "python/latin1.py"}
    assert [item.path for item in python.disagreements[Cause.REFERENCE_FAILED]] == ["python/broken.py"]
    assert 0 < python.agreement < 1
    assert not report.passes(0.995)


def test_broken_fixture_compares_the_tree_sitter_outline_not_the_fallback() -> None:
    """broken.py: ast accepts nothing, so it is reference-failed; the adapter's fallback is never used."""
    result = compare_file("python", (FIXTURES / "broken.py").read_bytes(), path="broken.py")
    assert result.failed is Cause.REFERENCE_FAILED
    (entry,) = result.disagreements
    assert entry.detail.startswith("SyntaxError")
    assert entry.line == 20


def test_tree_sitter_errors_that_ast_accepts_are_partial() -> None:
    """A dedent inside brackets is legal Python that tree-sitter-python reads as an error."""
    source = b"class C:\n    def m(self):\n        (bar.\n    baz)\n\n    def n(self):\n        pass\n"
    assert reference_outline(source) is not None
    result = compare_file("python", source)
    assert result.partial
    assert result.failed is None
    assert all(item.cause is Cause.TREE_SITTER_PARTIAL for item in result.disagreements)


@pytest.mark.parametrize(
    ("edit", "causes"),
    [
        ("drop", [Cause.ONLY_TREE_SITTER]),
        ("add", [Cause.ONLY_REFERENCE]),
        ("kind", [Cause.KIND_DIFFERS]),
        ("line", [Cause.LINE_DIFFERS]),
    ],
)
def test_constructed_disagreement_has_its_cause(edit: str, causes: list[Cause]) -> None:
    result = compare_file("python", CLEAN, {"python": _edited(edit)}, path="clean.py")
    assert [item.cause for item in result.disagreements] == causes
    assert result.disagreements[0].line == 13
    assert result.agreed == 9 - (edit != "add")
    assert result.compared == 9 + (edit == "add")


@pytest.mark.parametrize(
    ("edit", "aspect", "detail"),
    [
        ("end", Aspect.END_LINE, "Shelf.width: tree-sitter 17, reference 18"),
        ("visibility", Aspect.VISIBILITY, "Shelf.width: tree-sitter public, reference private"),
        ("import", Aspect.IMPORTS, "only tree-sitter: os (stdlib)"),
    ],
)
def test_aspects_are_reported_apart_and_do_not_gate(edit: str, aspect: Aspect, detail: str) -> None:
    """End lines, visibility and imports disagree on their own figure; definitions still agree."""
    result = compare_file("python", CLEAN, {"python": _edited(edit)}, path="clean.py")
    assert result.disagreements == ()
    assert result.agreed == result.compared == 9
    assert result.aspect_disagreements[0].cause is aspect
    assert result.aspect_disagreements[0].detail == detail
    assert result.aspects[aspect].agreed < result.aspects[aspect].compared
    assert all(figure.agreement == 1.0 for other, figure in result.aspects.items() if other is not aspect)


def test_match_by_place_first_then_by_name() -> None:
    """A name assigned twice: each assignment pairs with the one on its own line."""
    source = b"x = 1\nx = 2\n"
    assert compare_file("python", source).agreed == 2


def test_reference_recursion_error_is_classified_not_raised() -> None:
    deep = b"x = " + b"+".join([b"1"] * 10_000) + b"\n"
    result = compare_file("python", deep, path="deep.py")
    assert result.failed is Cause.REFERENCE_FAILED
    (entry,) = result.disagreements
    assert entry.cause is Cause.REFERENCE_FAILED
    assert entry.detail.startswith("RecursionError")


def test_raising_and_rejecting_references_are_classified() -> None:
    def raising(_source: bytes) -> Outline | None:
        raise MemoryError

    def rejecting(_source: bytes) -> Outline | None:
        return None

    raised = compare_file("python", CLEAN, {"python": Reference("raises", raising)})
    rejected = compare_file("python", CLEAN, {"python": Reference("rejects", rejecting)})
    assert [item.detail for item in raised.disagreements] == ["MemoryError"]
    assert [item.detail for item in rejected.disagreements] == ["rejected"]


def test_languages_without_reference_are_counted_not_compared(tmp_path: Path) -> None:
    """A language without a reference is counted, says why, and fails the gate: nothing was proven."""
    (tmp_path / "main.go").write_text("package main\n\nfunc main() {}\n")
    (tmp_path / "lib.rs").write_text("fn f() {}\n")
    (tmp_path / "clean.py").write_bytes(CLEAN)
    report = compare_corpus(tmp_path, ["python", "go", "rust"], unavailable={"rust": "cargo not found"})
    python, go, rust = report.languages
    assert (python.files, python.agreement) == (1, 1.0)
    assert (go.reference, go.files, go.compared) == (None, 1, 0)
    assert rust.reference is None
    assert f"go: {NO_REFERENCE} (1 files not compared)" in render(report)
    assert "rust: cargo not found (1 files not compared)" in render(report)
    assert not report.passes(0.995)
    assert compare_corpus(tmp_path, ["python"]).passes(0.995)


def test_corpus_report_groups_by_cause_and_gates(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_bytes(CLEAN)
    (tmp_path / "deep.py").write_bytes(b"x = " + b"+".join([b"1"] * 10_000) + b"\n")
    references = {**REFERENCES, "python": _edited("kind")}
    report = compare_corpus(tmp_path, ["python"], references)
    (python,) = report.languages
    assert set(python.disagreements) == {Cause.KIND_DIFFERS, Cause.REFERENCE_FAILED}
    assert python.failed_files == {Cause.REFERENCE_FAILED: 1}
    assert python.agreement == 8 / 9
    assert not report.passes(0.995)
    assert "clean.py:13" in render(report)


def test_cli_parity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "clean.py").write_bytes(CLEAN)
    (corpus / "deep.py").write_bytes(b"x = " + b"+".join([b"1"] * 10_000) + b"\n")
    out = tmp_path / "parity.json"
    assert main(["parity", str(corpus), "--language", "python", "--json", str(out), "--show", "1"]) == 0
    printed = capsys.readouterr().out
    assert "agreement 100.0000%" in printed
    assert "reference-failed: 1" in printed
    assert "deep.py:1  RecursionError" in printed
    data = json.loads(out.read_text())
    assert data["languages"][0]["agreement"] == 1.0
    assert main(["parity", str(tmp_path / "missing")]) == 2
