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

Agreement counts definitions only. End lines and visibility (of the definitions that agree) and
imports (module, name, alias, origin, line) are compared too and reported apart, as ``Aspect``
figures with their own disagreements; they do not gate.

For Python the tree-sitter outline is ``PythonAdapter.tree_outline``, never the ``ast`` fallback
the adapter stores for files with syntax errors (comparing that with ``ast`` would prove nothing).
References: CPython's ``ast`` for Python, in process (``REFERENCES``); for Go and Rust, programs
on ``go/parser`` and ``syn`` built from committed source on first use (``references(settings)``,
see ``reference_program``), which outline a corpus many files per process.
"""

from __future__ import annotations

import ast
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from parsefleet.contract.errors import ParseFailure, ReferenceUnavailable, TargetNotFound, TargetUnreadable
from parsefleet.contract.languages import LANGUAGES, language_for
from parsefleet.contract.outline import FileStatus, Import, Outline, Symbol
from parsefleet.contract.settings import Settings
from parsefleet.parity.go_program import GoReference
from parsefleet.parity.program import ReferenceFailure, ReferenceProgram
from parsefleet.parity.rust_program import RustReference
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.python import PythonAdapter
from parsefleet.workers.languages.python_reference import reference_outline
from parsefleet.workers.limits import ParseBudget

__all__ = [
    "REFERENCES",
    "Aspect",
    "Cause",
    "Disagreement",
    "Figure",
    "FileParity",
    "LanguageParity",
    "ParityReport",
    "Reference",
    "ReferenceFailure",
    "compare_corpus",
    "compare_file",
    "program_reference",
    "references",
    "render",
]

PARSE_TIMEOUT_S = 30.0
NO_REFERENCE = "no reference parser installed"
# what a reference may raise on a file it cannot outline (RecursionError is a RuntimeError); recorded, never
# propagated
_REFERENCE_ERRORS = (SyntaxError, ValueError, MemoryError, LookupError, RuntimeError, OverflowError, SystemError)


class Cause(StrEnum):
    """Why a definition (or a whole file) does not agree."""

    ONLY_TREE_SITTER = "only-tree-sitter"
    ONLY_REFERENCE = "only-reference"
    KIND_DIFFERS = "kind-differs"
    LINE_DIFFERS = "line-differs"
    TREE_SITTER_PARTIAL = "tree-sitter-partial"
    REFERENCE_FAILED = "reference-failed"
    TREE_SITTER_FAILED = "tree-sitter-failed"


class Aspect(StrEnum):
    """What else is compared, reported apart from the definitions' agreement (it does not gate)."""

    END_LINE = "end-line"  # of definitions that agree
    VISIBILITY = "visibility"  # of definitions that agree
    IMPORTS = "imports"  # module, name, alias, origin and line of every import


_CAUSE_ORDER = {cause: index for index, cause in enumerate(Cause)}


class ReferenceRejected(ValueError):
    """A reference outliner returned no outline without saying why."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference outliner: bytes -> Outline; it may return None, a ReferenceFailure or raise when it
    rejects a file. ``outline_files`` (optional) outlines many files at once, one result per path."""

    name: str
    outline: Callable[[bytes], Outline | ReferenceFailure | None]
    outline_files: Callable[[Sequence[Path]], Iterable[Outline | ReferenceFailure]] | None = None


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
_PROGRAMS: Mapping[str, Callable[[Settings], ReferenceProgram]] = {"go": GoReference, "rust": RustReference}


def program_reference(program: ReferenceProgram) -> Reference:
    """A reference program as a Reference (built by the first outline)."""
    return Reference(program.name, program.outline, program.outlines)


def references(settings: Settings, languages: Iterable[str] = LANGUAGES) -> tuple[dict[str, Reference], dict[str, str]]:
    """The reference of each language, building the Go and Rust programs now.

    Returns (references, why each missing one is unavailable).
    """
    found: dict[str, Reference] = {}
    missing: dict[str, str] = {}
    for language in languages:
        if language in REFERENCES:
            found[language] = REFERENCES[language]
            continue
        program = _PROGRAMS[language](settings)
        try:
            program.binary()
        except ReferenceUnavailable as exc:
            missing[language] = str(exc)
            continue
        found[language] = program_reference(program)
    return found, missing


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One definition, import (or file) that does not agree; ``line`` is 1-based in ``path``."""

    cause: Cause | Aspect
    path: str
    line: int
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"cause": str(self.cause), "path": self.path, "line": self.line, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Figure:
    """How many of something were compared, and how many agreed."""

    compared: int = 0
    agreed: int = 0

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else 1.0

    def __add__(self, other: Figure) -> Figure:
        return Figure(self.compared + other.compared, self.agreed + other.agreed)


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
    aspects: Mapping[Aspect, Figure] = field(default_factory=dict)
    aspect_disagreements: tuple[Disagreement, ...] = ()


@dataclass(slots=True)
class LanguageParity:
    """Totals of one language; ``reference`` is None when it has no reference parser (``unavailable`` says why)."""

    language: str
    reference: str | None
    files: int = 0
    compared: int = 0
    agreed: int = 0
    partial_files: int = 0
    failed_files: dict[str, int] = field(default_factory=dict)
    disagreements: dict[Cause, list[Disagreement]] = field(default_factory=dict)
    aspects: dict[Aspect, Figure] = field(default_factory=lambda: {aspect: Figure() for aspect in Aspect})
    aspect_disagreements: dict[Aspect, list[Disagreement]] = field(default_factory=dict)
    unavailable: str = NO_REFERENCE
    duration_s: float = 0.0

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
            self.disagreements.setdefault(Cause(disagreement.cause), []).append(disagreement)
        for aspect, figure in item.aspects.items():
            self.aspects[aspect] += figure
        for disagreement in item.aspect_disagreements:
            self.aspect_disagreements.setdefault(Aspect(disagreement.cause), []).append(disagreement)

    def by_cause(self) -> list[tuple[Cause, list[Disagreement]]]:
        """The disagreements grouped by cause, in the order causes are declared."""
        return sorted(self.disagreements.items(), key=lambda pair: _CAUSE_ORDER[pair[0]])

    def as_dict(self) -> dict[str, object]:
        return {
            "language": self.language,
            "reference": self.reference or self.unavailable,
            "files": self.files,
            "duration_s": round(self.duration_s, 3),
            "definitions_compared": self.compared,
            "agreed": self.agreed,
            "agreement": round(self.agreement, 6) if self.reference else None,
            "partial_files": self.partial_files,
            "failed_files": self.failed_files,
            "disagreements": {str(cause): [item.as_dict() for item in items] for cause, items in self.by_cause()},
            "aspects": {
                str(aspect): {"compared": figure.compared, "agreed": figure.agreed, "agreement": figure.agreement}
                for aspect, figure in self.aspects.items()
            },
            "aspect_disagreements": {
                str(aspect): [item.as_dict() for item in items] for aspect, items in self.aspect_disagreements.items()
            },
        }


@dataclass(frozen=True, slots=True)
class ParityReport:
    """One LanguageParity per language asked for, in the order asked."""

    root: str
    languages: tuple[LanguageParity, ...]

    def passes(self, min_agreement: float) -> bool:
        """True when every language has a reference and agrees at least ``min_agreement``."""
        return all(item.reference and item.agreement >= min_agreement for item in self.languages)

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
    return _compare(language, content, _reference_outline(references[language], content), path)


def _reference_outline(reference: Reference, content: bytes) -> Outline | ReferenceFailure:
    """The reference's outline, or why it has none (what it raised is recorded, never propagated)."""
    try:
        expected = reference.outline(content)
    except _REFERENCE_ERRORS as exc:
        line = getattr(exc, "lineno", None)
        return ReferenceFailure(_describe(exc), line if isinstance(line, int) and line > 0 else 1)
    return ReferenceFailure("rejected") if expected is None else expected


def _compare(language: str, content: bytes, expected: Outline | ReferenceFailure, path: str) -> FileParity:
    if isinstance(expected, ReferenceFailure):
        return _failed(language, path, Cause.REFERENCE_FAILED, expected.line, expected.detail)
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
    aspects, aspect_disagreements = _aspects(agreed, actual.imports, expected.imports, path)
    return FileParity(
        language,
        path,
        len(agreed) + len(found),
        len(agreed),
        disagreements,
        partial,
        aspects=aspects,
        aspect_disagreements=aspect_disagreements,
    )


def _failed(language: str, path: str, cause: Cause, line: object, detail: str) -> FileParity:
    line = line if isinstance(line, int) and line > 0 else 1
    return FileParity(language, path, disagreements=(Disagreement(cause, path, line, detail),), failed=cause)


def _describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_Found = list[tuple[Cause, int, str]]  # (cause, line, detail)
_Pairs = list[tuple[Symbol, Symbol]]  # (tree-sitter, reference) definitions that agree


def _match(actual: Sequence[Symbol], expected: Sequence[Symbol]) -> tuple[_Pairs, _Found]:
    """Match by (qualified name, start line), then by qualified name; return (agreed pairs, disagreements)."""
    by_place: dict[tuple[str, int], list[Symbol]] = defaultdict(list)
    for symbol in expected:
        by_place[symbol.qualified_name, symbol.start_line].append(symbol)
    agreed: _Pairs = []
    found: _Found = []
    unplaced: list[Symbol] = []
    for symbol in actual:
        candidates = by_place.get((symbol.qualified_name, symbol.start_line))
        if not candidates:
            unplaced.append(symbol)
            continue
        other = candidates.pop(0)
        if other.kind == symbol.kind:
            agreed.append((symbol, other))
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


def _aspects(
    pairs: _Pairs, actual: Sequence[Import], expected: Sequence[Import], path: str
) -> tuple[dict[Aspect, Figure], tuple[Disagreement, ...]]:
    """End lines and visibility of the agreed definitions, and the imports, with their disagreements."""
    found: list[Disagreement] = []
    end_lines = visibility = 0
    for ours, theirs in pairs:
        if ours.end_line == theirs.end_line:
            end_lines += 1
        else:
            detail = f"{ours.qualified_name}: tree-sitter {ours.end_line}, reference {theirs.end_line}"
            found.append(Disagreement(Aspect.END_LINE, path, ours.start_line, detail))
        if ours.visibility == theirs.visibility:
            visibility += 1
        else:
            detail = f"{ours.qualified_name}: tree-sitter {ours.visibility}, reference {theirs.visibility}"
            found.append(Disagreement(Aspect.VISIBILITY, path, ours.start_line, detail))
    ours_imports, theirs_imports = Counter(actual), Counter(expected)
    shared = sum((ours_imports & theirs_imports).values())
    for side, extra in (("tree-sitter", ours_imports - theirs_imports), ("reference", theirs_imports - ours_imports)):
        found.extend(
            Disagreement(Aspect.IMPORTS, path, item.line, f"only {side}: {_import_text(item)}")
            for item in extra.elements()
        )
    figures = {
        Aspect.END_LINE: Figure(len(pairs), end_lines),
        Aspect.VISIBILITY: Figure(len(pairs), visibility),
        Aspect.IMPORTS: Figure(len(actual) + len(expected) - shared, shared),
    }
    return figures, tuple(found)


def _import_text(item: Import) -> str:
    text = item.module if item.name is None else f"{item.module} {item.name}"
    return f"{text} as {item.alias} ({item.origin})" if item.alias else f"{text} ({item.origin})"


# --- a corpus ---------------------------------------------------------------------------------


def compare_corpus(
    root: Path,
    languages: Iterable[str] = LANGUAGES,
    references: Mapping[str, Reference] = REFERENCES,
    unavailable: Mapping[str, str] | None = None,
) -> ParityReport:
    """Compare every file of ``languages`` under ``root``.

    Languages without a reference are only counted; ``unavailable`` says why they have none.
    """
    if not root.is_dir():
        raise TargetNotFound(f"corpus directory not found: {root}")
    wanted = list(dict.fromkeys(languages))
    files: dict[str, list[Path]] = {language: [] for language in wanted}
    for path in sorted(root.rglob("*")):
        language = language_for(path)
        if language in files and path.is_file():
            files[language].append(path)
    totals = []
    for language in wanted:
        started = time.perf_counter()
        reference = references.get(language)
        reason = (unavailable or {}).get(language, NO_REFERENCE)
        parity = LanguageParity(language, None if reference is None else reference.name, unavailable=reason)
        if reference is None:
            parity.files = len(files[language])
        else:
            expected = _reference_outlines(reference, files[language])
            for path, outline in zip(files[language], expected, strict=True):
                parity.add(_compare(language, _read(path), outline, str(path.relative_to(root))))
        parity.duration_s = time.perf_counter() - started
        totals.append(parity)
    return ParityReport(str(root), tuple(totals))


def _reference_outlines(reference: Reference, paths: Sequence[Path]) -> Iterable[Outline | ReferenceFailure]:
    """One reference result per path: many at once when the reference can, else file by file."""
    if reference.outline_files is not None:
        return reference.outline_files(paths)
    return _one_by_one(reference, paths)


def _one_by_one(reference: Reference, paths: Sequence[Path]) -> Iterator[Outline | ReferenceFailure]:
    for path in paths:
        yield _reference_outline(reference, _read(path))


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
        return [f"{item.language}: {item.unavailable} ({item.files} files not compared)"]
    lines = [
        f"{item.language} (reference: {item.reference}): {item.files} files, {item.compared} definitions compared, "
        f"{item.agreed} agreed, agreement {item.agreement:.4%} ({item.duration_s:.1f} s)",
        f"  files with tree-sitter errors: {item.partial_files}; files not compared: "
        + (", ".join(f"{cause} {count}" for cause, count in sorted(item.failed_files.items())) or "none"),
        "  apart from agreement: "
        + ", ".join(
            f"{aspect} {figure.agreement:.4%} ({figure.agreed}/{figure.compared})"
            for aspect, figure in item.aspects.items()
        ),
    ]
    groups: list[tuple[str, list[Disagreement]]] = [(str(cause), items) for cause, items in item.by_cause()]
    groups += [
        (f"{aspect} differs", item.aspect_disagreements[aspect])
        for aspect in Aspect
        if aspect in item.aspect_disagreements
    ]
    for label, disagreements in groups:
        lines.append(f"  {label}: {len(disagreements)}")
        lines.extend(f"    {entry.path}:{entry.line}  {entry.detail}" for entry in disagreements[:show])
        if len(disagreements) > show:
            lines.append(f"    ... {len(disagreements) - show} more")
    return lines
