"""A reference parser that fails never crashes the worker: the ast fallback, and outline_batch.

Each hostile source makes CPython's ast raise for real (no mock): MemoryError ("parser stack
overflowed" on deep unary chains), RecursionError (deep binary expressions), SyntaxError and
IndentationError (nesting limits, null bytes, integer digit limit). A tail that tree-sitter-python
reads as an error while ast accepts it (a dedent inside brackets) makes the adapter try the
fallback; the adapter must then keep tree-sitter's own outline (PARTIAL).
"""

from __future__ import annotations

import ast
import warnings

import pytest

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.outline import FileStatus, Outline
from parsefleet.parity.comparison import Cause, compare_file
from parsefleet.workers import outcome
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.base import Version
from parsefleet.workers.languages.python_reference import reference_outline
from parsefleet.workers.limits import ParseBudget

# legal Python that tree-sitter-python reads as a syntax error: the adapter tries the ast fallback
TREE_SITTER_ERROR = b"\nclass C:\n    def m(self):\n        (bar.\n    baz)\n"
NESTED_IFS = b"".join(b"    " * level + b"if x:\n" for level in range(120)) + b"    " * 120 + b"pass\n"
# source -> what ast raises (null bytes and the integer digit limit raise ValueError before 3.12 on some builds)
HOSTILE: dict[str, tuple[bytes, tuple[type[BaseException], ...]]] = {
    "deep unary chain": (b"x = " + b"-" * 100_000 + b"1\n", (MemoryError,)),
    "deep not chain": (b"x = " + b"not " * 50_000 + b"y\n", (MemoryError,)),
    "deep lambdas": (b"x = " + b"lambda: " * 20_000 + b"1\n", (MemoryError,)),
    "deep binary expression": (b"x = " + b"+".join([b"1"] * 100_000) + b"\n", (RecursionError,)),
    "deep attribute chain": (b"x = a" + b".b" * 100_000 + b"\n", (RecursionError,)),
    "nested parentheses": (b"x = " + b"(" * 300 + b"1" + b")" * 300 + b"\n", (SyntaxError,)),
    "indentation levels": (NESTED_IFS, (SyntaxError,)),
    "null byte": (b"x = 1\0\n", (SyntaxError, ValueError)),
    "integer digits": (b"x = " + b"1" * 100_000 + b"\n", (SyntaxError, ValueError)),
}


def _ast_error(source: bytes) -> type[BaseException] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_ast_really_raises_on_the_hostile_source(name: str) -> None:
    source, raised = HOSTILE[name]
    error = _ast_error(source + TREE_SITTER_ERROR)
    assert error is not None
    assert issubclass(error, raised)
    assert _ast_error(TREE_SITTER_ERROR) is None  # the tail alone is legal


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_fallback_failure_keeps_the_tree_sitter_outline(name: str) -> None:
    source = HOSTILE[name][0] + TREE_SITTER_ERROR
    assert reference_outline(source) is None  # never raises
    result = adapter_for("python").outline(source, ParseBudget(timeout_s=30))
    assert result.status is FileStatus.PARTIAL
    assert result.error_count > 0
    assert "C" in {symbol.qualified_name for symbol in result.symbols}


@pytest.mark.parametrize("name", ["deep unary chain", "deep binary expression", "null byte"])
def test_parity_records_the_reference_failure(name: str) -> None:
    result = compare_file("python", HOSTILE[name][0], path="hostile.py")
    assert result.failed is Cause.REFERENCE_FAILED
    (entry,) = result.disagreements
    assert entry.detail.split(":")[0] in {error.__name__ for error in HOSTILE[name][1]}


def _batch(*sources: bytes) -> Batch:
    files = tuple(
        BatchFile(FileRef(1, f"f{index}.py", bytes(20), "python", len(source)), source)
        for index, source in enumerate(sources)
    )
    return Batch("batch-1", "run-1", "python", files)


def test_outline_batch_survives_every_hostile_file() -> None:
    sources = [source + TREE_SITTER_ERROR for source, _ in HOSTILE.values()]
    result = outcome.outline_batch(_batch(*sources, b"def ok():\n    pass\n"), timeout_s=30, rss_limit_mb=None)
    statuses = [item.status for item in result.files]
    assert statuses == [FileStatus.PARTIAL] * len(HOSTILE) + [FileStatus.PARSED]


@pytest.mark.parametrize(("raised", "kind"), [(MemoryError, "memory"), (RecursionError, "recursion")])
def test_outline_batch_turns_an_escaping_error_into_a_failure(
    monkeypatch: pytest.MonkeyPatch, raised: type[BaseException], kind: str
) -> None:
    """An error that escapes the adapter fails that one file; the next file is still outlined."""
    adapter = adapter_for("python")
    real = adapter.outline_version

    def outline_version(
        source: bytes, budget: ParseBudget, previous: Version | None = None, *, keep: bool = False
    ) -> tuple[Outline, Version | None]:
        if source.startswith(b"# explode"):
            raise raised
        return real(source, budget, previous, keep=keep)

    monkeypatch.setattr(adapter, "outline_version", outline_version)
    result = outcome.outline_batch(_batch(b"# explode\n", b"X = 1\n"), timeout_s=10, rss_limit_mb=None)
    failed, parsed = result.files
    assert (failed.status, failed.failure_kind) == (FileStatus.FAILED, kind)
    assert parsed.outline is not None
    assert [symbol.name for symbol in parsed.outline.symbols] == ["X"]
