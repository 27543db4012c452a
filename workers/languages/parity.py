"""Parity: the tree-sitter outline of a file against a reference outliner's.

Definitions are compared by kind, qualified name and start line. They are matched by
(qualified name, start line) first, then by qualified name alone (in file order), and every
disagreement gets one cause:

- ``only-tree-sitter`` / ``only-reference``: a definition one side has and the other lacks;
- ``kind-differs``: same qualified name and start line, different kind;
- ``line-differs``: same qualified name, different start line;
- ``tree-sitter-partial``: any of the above in a file whose tree has syntax errors (the outline is
  what tree-sitter's error recovery left; the detail names the underlying cause);
- ``reference-failed``: the reference rejected or raised on the file (SyntaxError, RecursionError,
  MemoryError...): nothing of the file is compared;
- ``tree-sitter-failed``: the tree-sitter parse was cancelled: nothing of the file is compared.

For Python the tree-sitter outline is ``PythonAdapter.tree_outline``, never the ``ast`` fallback
the adapter stores for files with syntax errors (comparing that with ``ast`` would prove nothing).
References: CPython's ``ast`` for Python; none yet for Go (``go/parser``) and Rust (``syn``):
pass them in ``references`` once they exist.
"""

from __future__ import annotations

import ast
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from common.errors import ParseFailure, TargetNotFound, TargetUnreadable
from common.languages import LANGUAGES, language_for
from common.outline import FileStatus, Outline, Symbol
from workers.languages import adapter_for
from workers.languages.python import PythonAdapter
from workers.languages.python_reference import reference_outline
from workers.limits import ParseBudget

__all__ = [
    "REFERENCES",
    "Cause",
    "Disagreement",
    "FileParity",
    "LanguageParity",
    "ParityReport",
    "Reference",
    "compare_corpus",
    "compare_file",
    "render",
]

PARSE_TIMEOUT_S = 30.0
NO_REFERENCE = "no reference parser installed"
# what a reference may raise on a file it cannot outline; recorded, never propagated
_REFERENCE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, UnicodeError, LookupError, RuntimeError)


class Cause(StrEnum):
    """Why a definition (or a whole file) does not agree."""

    ONLY_TREE_SITTER = "only-tree-sitter"
    ONLY_REFERENCE = "only-reference"
    KIND_DIFFERS = "kind-differs"
    LINE_DIFFERS = "line-differs"
    TREE_SITTER_PARTIAL = "tree-sitter-partial"
    REFERENCE_FAILED = "reference-failed"
    TREE_SITTER_FAILED = "tree-sitter-failed"


_CAUSE_ORDER = {cause: index for index, cause in enumerate(Cause)}


class ReferenceRejected(ValueError):
    """A reference outliner returned no outline without saying why."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference outliner: bytes -> Outline; it may return None or raise when it rejects a file."""

    name: str
    outline: Callable[[bytes], Outline | None]


def python_reference(source: bytes) -> Outline:
    """CPython's ast outline; raises what ast raised when it rejects the file."""
    outline = reference_outline(source)
    if outline is not None:
        return outline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ast.parse(source)  # raises the reason of the rejection, in most cases
    raise ReferenceRejected("ast accepted the file but its outline failed")


REFERENCES: Mapping[str, Reference] = {"python": Reference("CPython ast", python_reference)}


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One definition (or file) that does not agree; ``line`` is 1-based in ``path``."""

    cause: Cause
    path: str
    line: int
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"cause": str(self.cause), "path": self.path, "line": self.line, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class FileParity:
    """The comparison of one file. ``compared`` counts matched pairs plus unmatched definitions."""

    language: str
    path: str
    compared: int = 0
    agreed: int = 0
    disagreements: tuple[Disagreement, ...] = ()
    partial: bool = False
    failed: Cause | None = None  # REFERENCE_FAILED or TREE_SITTER_FAILED: nothing compared


@dataclass(slots=True)
class LanguageParity:
    """Totals of one language; ``reference`` is None when no reference parser is installed."""

    language: str
    reference: str | None
    files: int = 0
    compared: int = 0
    agreed: int = 0
    partial_files: int = 0
    failed_files: dict[str, int] = field(default_factory=dict)
    disagreements: dict[Cause, list[Disagreement]] = field(default_factory=dict)

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else 1.0

    def add(self, item: FileParity) -> None:
        self.files += 1
        self.compared += item.compared
        self.agreed += item.agreed
        self.partial_files += item.partial
        if item.failed is not None:
            self.failed_files[item.failed] = self.failed_files.get(item.failed, 0) + 1
        for disagreement in item.disagreements:
            self.disagreements.setdefault(disagreement.cause, []).append(disagreement)

    def by_cause(self) -> list[tuple[Cause, list[Disagreement]]]:
        """The disagreements grouped by cause, in the order causes are declared."""
        return sorted(self.disagreements.items(), key=lambda pair: _CAUSE_ORDER[pair[0]])

    def as_dict(self) -> dict[str, object]:
        return {
            "language": self.language,
            "reference": self.reference or NO_REFERENCE,
            "files": self.files,
            "definitions_compared": self.compared,
            "agreed": self.agreed,
            "agreement": round(self.agreement, 6) if self.reference else None,
            "partial_files": self.partial_files,
            "failed_files": self.failed_files,
            "disagreements": {str(cause): [item.as_dict() for item in items] for cause, items in self.by_cause()},
        }


@dataclass(frozen=True, slots=True)
class ParityReport:
    """One LanguageParity per language asked for, in the order asked."""

    root: str
    languages: tuple[LanguageParity, ...]

    def passes(self, min_agreement: float) -> bool:
        """True when every language that has a reference agrees at least ``min_agreement``."""
        return all(item.agreement >= min_agreement for item in self.languages if item.reference)

    def as_dict(self) -> dict[str, object]:
        return {"root": self.root, "languages": [item.as_dict() for item in self.languages]}


# --- one file ---------------------------------------------------------------------------------


def tree_sitter_outline(language: str, content: bytes) -> Outline:
    """The tree-sitter outline of ``content`` (for Python without the ast fallback)."""
    adapter = adapter_for(language)
    budget = ParseBudget(PARSE_TIMEOUT_S)
    if isinstance(adapter, PythonAdapter):
        return adapter.tree_outline(adapter.parse(content, budget), content)
    return adapter.outline(content, budget)


def compare_file(
    language: str, content: bytes, references: Mapping[str, Reference] = REFERENCES, path: str = "<input>"
) -> FileParity:
    """Compare the tree-sitter outline of one file with its language's reference.

    Raises KeyError when ``references`` has no reference for ``language``.
    """
    reference = references[language]
    try:
        expected = reference.outline(content)
    except _REFERENCE_ERRORS as exc:
        return _failed(language, path, Cause.REFERENCE_FAILED, getattr(exc, "lineno", None), _describe(exc))
    if expected is None:
        return _failed(language, path, Cause.REFERENCE_FAILED, None, "rejected")
    try:
        actual = tree_sitter_outline(language, content)
    except ParseFailure as exc:
        return _failed(language, path, Cause.TREE_SITTER_FAILED, None, _describe(exc))
    partial = actual.status is FileStatus.PARTIAL
    agreed, found = _match(actual.symbols, expected.symbols)
    disagreements = tuple(
        Disagreement(Cause.TREE_SITTER_PARTIAL, path, line, f"{cause}: {detail}")
        if partial
        else Disagreement(cause, path, line, detail)
        for cause, line, detail in found
    )
    return FileParity(language, path, agreed + len(found), agreed, disagreements, partial)


def _failed(language: str, path: str, cause: Cause, line: object, detail: str) -> FileParity:
    line = line if isinstance(line, int) and line > 0 else 1
    return FileParity(language, path, disagreements=(Disagreement(cause, path, line, detail),), failed=cause)


def _describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_Found = list[tuple[Cause, int, str]]  # (cause, line, detail)


def _match(actual: Sequence[Symbol], expected: Sequence[Symbol]) -> tuple[int, _Found]:
    """Match by (qualified name, start line), then by qualified name; return (agreed, disagreements)."""
    by_place: dict[tuple[str, int], list[Symbol]] = defaultdict(list)
    for symbol in expected:
        by_place[symbol.qualified_name, symbol.start_line].append(symbol)
    agreed = 0
    found: _Found = []
    unplaced: list[Symbol] = []
    for symbol in actual:
        candidates = by_place.get((symbol.qualified_name, symbol.start_line))
        if not candidates:
            unplaced.append(symbol)
            continue
        other = candidates.pop(0)
        if other.kind == symbol.kind:
            agreed += 1
        else:
            detail = f"{symbol.qualified_name}: tree-sitter {symbol.kind}, reference {other.kind}"
            found.append((Cause.KIND_DIFFERS, symbol.start_line, detail))
    found.extend(_match_names(unplaced, [symbol for symbols in by_place.values() for symbol in symbols]))
    found.sort(key=lambda item: item[1])
    return agreed, found


def _match_names(actual: Iterable[Symbol], expected: Iterable[Symbol]) -> _Found:
    by_name: dict[str, list[Symbol]] = defaultdict(list)
    for symbol in sorted(expected, key=lambda item: item.start_byte):
        by_name[symbol.qualified_name].append(symbol)
    found: _Found = []
    for symbol in actual:
        candidates = by_name.get(symbol.qualified_name)
        if not candidates:
            found.append((Cause.ONLY_TREE_SITTER, symbol.start_line, f"{symbol.kind} {symbol.qualified_name}"))
            continue
        other = candidates.pop(0)
        detail = (
            f"{symbol.qualified_name}: tree-sitter {symbol.kind} line {symbol.start_line}, "
            f"reference {other.kind} line {other.start_line}"
        )
        found.append((Cause.LINE_DIFFERS, symbol.start_line, detail))
    for symbols in by_name.values():
        found.extend((Cause.ONLY_REFERENCE, item.start_line, f"{item.kind} {item.qualified_name}") for item in symbols)
    return found


# --- a corpus ---------------------------------------------------------------------------------


def compare_corpus(
    root: Path, languages: Iterable[str] = LANGUAGES, references: Mapping[str, Reference] = REFERENCES
) -> ParityReport:
    """Compare every file of ``languages`` under ``root``; languages without a reference are only counted."""
    if not root.is_dir():
        raise TargetNotFound(f"corpus directory not found: {root}")
    totals = {language: LanguageParity(language, _reference_name(references, language)) for language in languages}
    for path in sorted(root.rglob("*")):
        language = language_for(path)
        if language not in totals or not path.is_file():
            continue
        parity = totals[language]
        if parity.reference is None:
            parity.files += 1
            continue
        parity.add(compare_file(language, _read(path), references, str(path.relative_to(root))))
    return ParityReport(str(root), tuple(totals.values()))


def _reference_name(references: Mapping[str, Reference], language: str) -> str | None:
    reference = references.get(language)
    return None if reference is None else reference.name


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TargetUnreadable(f"cannot read {path}: {exc}") from exc


# --- text -------------------------------------------------------------------------------------


def render(report: ParityReport, show: int = 5) -> str:
    """Agreement per language and the first ``show`` disagreements of each cause."""
    lines = [f"parity of {report.root}: tree-sitter against the reference outliner"]
    for item in report.languages:
        lines.extend(_render_language(item, show))
    return "\n".join(lines)


def _render_language(item: LanguageParity, show: int) -> list[str]:
    if item.reference is None:
        return [f"{item.language}: {NO_REFERENCE} ({item.files} files not compared)"]
    lines = [
        f"{item.language} (reference: {item.reference}): {item.files} files, {item.compared} definitions compared, "
        f"{item.agreed} agreed, agreement {item.agreement:.4%}",
        f"  files with tree-sitter errors: {item.partial_files}; files not compared: "
        + (", ".join(f"{cause} {count}" for cause, count in sorted(item.failed_files.items())) or "none"),
    ]
    for cause, disagreements in item.by_cause():
        lines.append(f"  {cause}: {len(disagreements)}")
        lines.extend(f"    {entry.path}:{entry.line}  {entry.detail}" for entry in disagreements[:show])
        if len(disagreements) > show:
            lines.append(f"    ... {len(disagreements) - show} more")
    return lines
