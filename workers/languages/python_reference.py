"""The reference ("legacy") Python outline, from CPython's ``ast``.

It follows the rules of the tree-sitter adapter (``parsefleet.workers.languages.python``), so the two can be
compared, and it stands in for tree-sitter when tree-sitter cannot parse a file that CPython
accepts. The naming rules both share live here:

- ``python_visibility``: a leading underscore is private, except dunder names (``__init__``).
- ``variable_kind``: an UPPER_CASE module-level name is a constant, any other a variable.
- ``python_origin``: relative imports are local; a top-level package in
  ``sys.stdlib_module_names`` is the standard library; anything else is third party.

Spans: ast gives lines and UTF-8 columns of the decoded text; they are mapped back to byte
offsets in the original bytes (PEP 263 encodings, BOM). Lines follow CPython, which also ends a
line at a lone CR.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from parsefleet.contract.outline import Import, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages.tree import Definition, build_symbols

__all__ = ["python_origin", "python_visibility", "reference_outline", "variable_kind"]

_BOM = b"\xef\xbb\xbf"
_CONTAINERS = frozenset({SymbolKind.CLASS, SymbolKind.FUNCTION, SymbolKind.METHOD})
_METHOD_PARENTS = frozenset({SymbolKind.CLASS})
# what ast.parse (or walking its tree) raises on a file it cannot outline: SyntaxError (also
# "too many nested parentheses", indentation limits), ValueError (null bytes, integer digit
# limit), RecursionError (deep expressions), MemoryError ("parser stack overflowed" on deep unary
# chains), LookupError (unknown PEP 263 encoding), OverflowError and SystemError (interpreter limits)
_REJECTED = (SyntaxError, ValueError, RecursionError, MemoryError, LookupError, OverflowError, SystemError)


def python_visibility(name: str) -> Visibility:
    """PRIVATE for ``_name`` and ``__name``, PUBLIC otherwise (``__init__`` included)."""
    if name.startswith("_") and not (len(name) > 4 and name.startswith("__") and name.endswith("__")):
        return Visibility.PRIVATE
    return Visibility.PUBLIC


def variable_kind(name: str) -> SymbolKind:
    """CONSTANT for an UPPER_CASE name, VARIABLE otherwise."""
    return SymbolKind.CONSTANT if name.isupper() else SymbolKind.VARIABLE


def python_origin(module: str) -> ImportOrigin:
    """Where an imported module comes from (``module`` keeps the dots of a relative import)."""
    if module.startswith("."):
        return ImportOrigin.LOCAL
    if module.split(".", 1)[0] in sys.stdlib_module_names:
        return ImportOrigin.STDLIB
    return ImportOrigin.THIRD_PARTY


def reference_outline(source: bytes) -> Outline | None:
    """Outline ``source`` with CPython's ast; None when CPython rejects it. Never raises."""
    try:
        with warnings.catch_warnings():  # invalid escapes and the like: not ours to report
            warnings.simplefilter("ignore")
            module = ast.parse(source)
        collector = _Collector(_Positions.of(source))
        collector.body(module.body, top_level=True)
    except _REJECTED:
        return None
    symbols = build_symbols(collector.definitions, ".", _CONTAINERS, _METHOD_PARENTS)
    return Outline(language="python", symbols=symbols, imports=tuple(collector.imports))


@dataclass(frozen=True, slots=True)
class _Positions:
    """Maps ast (line, UTF-8 column) positions to byte offsets in the original source."""

    source: bytes
    encoding: str
    line_starts: tuple[int, ...]

    @classmethod
    def of(cls, source: bytes) -> _Positions:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        starts = [0]
        for line in source.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        if source.startswith(_BOM):
            starts[0] = len(_BOM)
        return cls(source, encoding, tuple(starts))

    def offset(self, line: int, column: int) -> int:
        """Byte offset of 1-based ``line`` and UTF-8 ``column``."""
        start = self.line_starts[min(max(line, 1), len(self.line_starts)) - 1]
        if self.encoding in ("utf-8", "utf-8-sig"):
            return start + column
        text = self.source[start : self.line_starts[min(line, len(self.line_starts) - 1)]]
        prefix = text.decode(self.encoding, "replace").encode("utf-8")[:column]
        return start + len(prefix.decode("utf-8", "replace").encode(self.encoding, "replace"))

    def definition(self, kind: SymbolKind, name: str, node: ast.stmt) -> Definition:
        end_line = node.end_lineno or node.lineno
        end_column = node.col_offset if node.end_col_offset is None else node.end_col_offset
        return Definition(
            kind=kind,
            name=name,
            start_byte=self.offset(node.lineno, node.col_offset),
            end_byte=self.offset(end_line, end_column),
            start_line=node.lineno,
            end_line=end_line,
            visibility=python_visibility(name),
        )


@dataclass(slots=True)
class _Collector:
    """Walks statements the way the adapter's query walks scopes."""

    positions: _Positions
    definitions: list[Definition] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)

    def body(self, statements: Sequence[ast.stmt], top_level: bool) -> None:
        for statement in statements:
            handler = _HANDLERS.get(type(statement))
            if handler is not None:
                handler(self, statement, top_level)

    def add(self, kind: SymbolKind, name: str, node: ast.stmt) -> None:
        self.definitions.append(self.positions.definition(kind, name, node))

    def class_def(self, node: ast.stmt, _top_level: bool) -> None:
        assert isinstance(node, ast.ClassDef)
        self.add(SymbolKind.CLASS, node.name, node)
        self.body(node.body, top_level=False)

    def function_def(self, node: ast.stmt, _top_level: bool) -> None:
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        self.add(SymbolKind.FUNCTION, node.name, node)
        self.body(node.body, top_level=False)

    def assign(self, node: ast.stmt, top_level: bool) -> None:
        if not top_level:
            return
        for name in _assigned_names(node):
            self.add(variable_kind(name), name, node)

    def import_names(self, node: ast.stmt, _top_level: bool) -> None:
        self.imports.extend(_imports(node))

    def branches(self, node: ast.stmt, top_level: bool) -> None:
        """if/try/with: their blocks are as top level as the statement."""
        for statements in _blocks(node):
            self.body(statements, top_level)

    def loops(self, node: ast.stmt, _top_level: bool) -> None:
        """for/while/match: their blocks are never top level."""
        for statements in _blocks(node):
            self.body(statements, top_level=False)

    def type_alias(self, node: ast.stmt, _top_level: bool) -> None:
        name = getattr(getattr(node, "name", None), "id", None)
        if isinstance(name, str):
            self.add(SymbolKind.TYPE_ALIAS, name, node)


def _assigned_names(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.AnnAssign):
        if node.simple and isinstance(node.target, ast.Name):
            yield node.target.id
        return
    assert isinstance(node, ast.Assign)
    for target in node.targets:
        if isinstance(target, ast.Name):
            yield target.id
        elif isinstance(target, ast.Tuple | ast.List):
            yield from (item.id for item in target.elts if isinstance(item, ast.Name))


def _imports(node: ast.stmt) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield Import(alias.name, None, alias.asname, python_origin(alias.name), node.lineno)
    elif isinstance(node, ast.ImportFrom):
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            yield Import(module, alias.name, alias.asname, python_origin(module), node.lineno)


def _blocks(node: ast.stmt) -> Iterator[Sequence[ast.stmt]]:
    """Every statement list directly under a compound statement."""
    yield getattr(node, "body", [])
    for part in getattr(node, "handlers", ()) or getattr(node, "cases", ()):
        yield part.body
    yield getattr(node, "orelse", [])
    yield getattr(node, "finalbody", [])


_Handler = Callable[[_Collector, ast.stmt, bool], None]
_HANDLERS: dict[type[ast.stmt], _Handler] = {
    ast.ClassDef: _Collector.class_def,
    ast.FunctionDef: _Collector.function_def,
    ast.AsyncFunctionDef: _Collector.function_def,
    ast.Assign: _Collector.assign,
    ast.AnnAssign: _Collector.assign,
    ast.Import: _Collector.import_names,
    ast.ImportFrom: _Collector.import_names,
    ast.If: _Collector.branches,
    ast.Try: _Collector.branches,
    ast.With: _Collector.branches,
    ast.AsyncWith: _Collector.branches,
    ast.For: _Collector.loops,
    ast.AsyncFor: _Collector.loops,
    ast.While: _Collector.loops,
    ast.Match: _Collector.loops,
    ast.TryStar: _Collector.branches,
}
if sys.version_info >= (3, 12):
    _HANDLERS[ast.TypeAlias] = _Collector.type_alias
