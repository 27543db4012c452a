"""Helpers every adapter shares: scope-by-scope queries, node spans, parents by containment.

Finding definitions: a query run over a whole tree visits every node, which costs about a quarter
of the parse itself. ``scope_captures`` instead runs a query scope by scope with a start depth of
1: a scope is the root, an inline module body or an ERROR node; patterns start only at the
scope's direct children, and the query skips everything deeper (function bodies, expressions)
except the nested scopes the patterns capture as ``@scope``. Trees with syntax errors use it (Go,
Rust); clean trees are cheaper still to walk: Python statement list by statement list (see
python.py), Go declaration by declaration (go.py), Rust item list by item list (rust_walk.py).
Walks look nodes up by ``Node.kind_id`` (``kind_ids``) and fields by id (``field_ids``): both skip
a string per call.

Parents: the query paths (and Rust's walk) collect flat ``Definition`` records in any order;
``build_symbols`` sorts them by start byte and finds each one's parent with a stack of open
containers (span containment). The Python and Go walks of clean trees meet definitions in
document order with their enclosing definition known, and build each ``Symbol`` at once
(``OrderedSymbols``): no record, no sort, no containment search (a quarter of Go's instructions
over the parse, a seventh of Python's: docs/benchmarks.md); a test per language checks both ways
give the same outline.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple, TypeVar

import tree_sitter

from parsefleet.contract.errors import ParseCancelled
from parsefleet.contract.outline import Symbol, SymbolKind, Visibility
from parsefleet.workers.languages.base import LanguageAdapter
from parsefleet.workers.limits import ParseBudget

__all__ = [
    "SCOPE",
    "SYMBOLS_RSS_CHECK_EVERY",
    "Definition",
    "OrderedSymbols",
    "Source",
    "build_symbols",
    "count_errors",
    "field_ids",
    "first_named",
    "kind_ids",
    "scope_captures",
]

_V = TypeVar("_V")

SCOPE = "scope"  # the capture name of a nested scope to query next
SYMBOLS_RSS_CHECK_EVERY = 1024  # symbols an ordered walk builds between two checks of the memory budget

Captures = dict[str, list[tree_sitter.Node]]


def scope_captures(adapter: LanguageAdapter, root: tree_sitter.Node) -> Captures:
    """Captures of ``root`` and of every nested scope its captures name, merged by capture name."""
    merged: Captures = {}
    todo = [root]
    while todo:
        node = todo.pop()
        for name, nodes in adapter.captures(node, max_start_depth=1).items():
            if name == SCOPE:  # an ERROR scope captures itself at depth 0: skip it
                todo.extend(scope for scope in nodes if scope != node)
            else:
                merged.setdefault(name, []).extend(nodes)
    return merged


def field_ids(grammar: object, *names: str) -> tuple[int, ...]:
    """The grammar's ids of the fields ``names``.

    ``Node.child_by_field_id`` skips what ``child_by_field_name`` does on every call: finding the
    id by comparing the name with each of the grammar's field names.
    """
    language = tree_sitter.Language(grammar)
    ids = tuple(language.field_id_for_name(name) for name in names)
    missing = [name for name, field_id in zip(names, ids, strict=True) if field_id is None]
    if missing:
        raise ValueError(f"{language.name} has no field {', '.join(missing)}")
    return tuple(field_id for field_id in ids if field_id is not None)


def kind_ids(grammar: object, table: Mapping[str, _V]) -> dict[int, _V]:
    """``table`` (keyed by named node type) keyed by the grammar's numeric kinds, ``Node.kind_id``.

    A lookup by ``kind_id`` skips building (and hashing) a new string per node, as ``Node.type``
    does; a type may have several ids (aliases), all of them are keys.
    """
    language = tree_sitter.Language(grammar)
    by_id = {}
    for kind_id in range(language.node_kind_count):
        name = language.node_kind_for_id(kind_id)
        if name is not None and name in table and language.node_kind_is_named(kind_id):
            by_id[kind_id] = table[name]
    return by_id


def first_named(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The first named child, or None (``Node.named_child`` raises IndexError instead)."""
    return node.named_child(0) if node.named_child_count else None


def count_errors(root: tree_sitter.Node) -> int:
    """Count ERROR and MISSING nodes, descending only into subtrees that hold an error."""
    count = 0
    todo = [root]
    while todo:
        node = todo.pop()
        if node.is_error or node.is_missing:
            count += 1
        todo.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


@dataclass(slots=True)
class Definition:
    """One definition before parents are known.

    ``qualifier`` is how the definition appears in qualified names (``(*T).M`` for a Go method;
    defaults to ``name``); ``scope`` is the prefix its children get (a Rust impl's type name;
    defaults to its own qualified name).
    """

    kind: SymbolKind
    name: str
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int
    visibility: Visibility
    qualifier: str | None = None
    scope: str | None = None
    from_macro: bool = False


@dataclass(frozen=True, slots=True)
class Source:
    """The bytes a tree was parsed from, and where they sit in the file.

    Offsets are zero for a file; a Rust macro body re-parsed on its own has the offsets of its
    first byte, so that spans and lines map back to the file.
    """

    data: bytes
    byte_offset: int = 0
    row_offset: int = 0
    from_macro: bool = False

    def text(self, node: tree_sitter.Node) -> str:
        """The node's text, decoded leniently (invalid UTF-8 becomes U+FFFD)."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def line(self, node: tree_sitter.Node) -> int:
        """The node's 1-based start line in the file."""
        return node.start_point[0] + self.row_offset + 1

    def definition(
        self,
        kind: SymbolKind,
        name: str,
        node: tree_sitter.Node,
        visibility: Visibility,
        *,
        qualifier: str | None = None,
        scope: str | None = None,
    ) -> Definition:
        """A definition spanning ``node``."""
        row_offset = self.row_offset
        start_row = node.start_point[0] + row_offset + 1
        end_row, end_column = node.end_point
        end_row += (row_offset + 1) if end_column else row_offset
        return Definition(
            kind,
            name,
            node.start_byte + self.byte_offset,
            node.end_byte + self.byte_offset,
            start_row,
            end_row if end_row > start_row else start_row,
            visibility,
            qualifier,
            scope,
            self.from_macro,
        )


@dataclass(slots=True)
class OrderedSymbols:
    """Symbols built as a walk meets their definitions in document order, each with its parent
    (an index here) known to the walk: what ``build_symbols`` makes of the same definitions, with
    no record, sort or containment search.

    Past ``cap`` definitions (the budget's symbols cap) they are only counted, so that a file the
    cap refuses has cost no more symbols than the cap; ``count`` is every definition met. Every
    ``SYMBOLS_RSS_CHECK_EVERY`` symbols built, the budget's memory limit is checked: over it, the
    symbols built are dropped and the rest only counted, and ``settle`` (after the walk) refuses
    the file for too many definitions when the count is past the cap, for memory otherwise. A file
    of 150,000 one-line functions has 112 MB of tree before its first symbol: on a pool child near
    its budget, building the cap's 50,000 symbols crosses it, and the refusal still names the cause.
    """

    source: Source
    cap: int = sys.maxsize
    budget: ParseBudget | None = None
    symbols: list[Symbol] = field(default_factory=list)
    count: int = 0
    breach: ParseCancelled | None = None

    @classmethod
    def within(cls, source: Source, budget: ParseBudget | None) -> OrderedSymbols:
        """Symbols of ``source`` up to the cap of ``budget`` (none without a budget or a cap),
        watched by its memory limit."""
        if budget is None or budget.symbols_max is None:
            return cls(source, budget=budget)
        return cls(source, budget.symbols_max, budget)

    def add(
        self,
        kind: SymbolKind,
        name: str,
        node: tree_sitter.Node,
        visibility: Visibility,
        *,
        qualified_name: str,
        parent: int | None,
    ) -> int:
        """Build the symbol spanning ``node`` (only count it past the cap); return its index."""
        self.count += 1
        if self.count <= self.cap:
            source = self.source
            row_offset = source.row_offset
            start_row = node.start_point[0] + row_offset + 1
            end_row, end_column = node.end_point
            end_row += (row_offset + 1) if end_column else row_offset
            self.symbols.append(
                Symbol(
                    kind,
                    name,
                    qualified_name,
                    parent,
                    start_row,
                    end_row if end_row > start_row else start_row,
                    node.start_byte + source.byte_offset,
                    node.end_byte + source.byte_offset,
                    visibility,
                    source.from_macro,
                )
            )
            if self.budget is not None and not self.count % SYMBOLS_RSS_CHECK_EVERY:
                self._watch(self.budget)
        return self.count - 1

    def _watch(self, budget: ParseBudget) -> None:
        try:
            budget.check_rss("outline not kept: definitions found")
        except ParseCancelled as exc:
            self.breach, self.cap = exc, 0
            self.symbols.clear()

    def settle(self) -> None:
        """Refuse the walk's file: too many definitions (the budget's cap) before a memory breach."""
        if self.budget is None:
            return
        self.budget.check_symbols(self.count)
        if self.breach is not None:
            raise self.breach


class _Open(NamedTuple):
    """A container on the stack: where it ends, its index in the symbols, its kind and its children's prefix."""

    end_byte: int
    symbol_index: int
    kind: SymbolKind
    scope: str


_START_BYTE = attrgetter("start_byte")
_END_BYTE = attrgetter("end_byte")


def build_symbols(
    definitions: Iterable[Definition],
    separator: str,
    containers: frozenset[SymbolKind],
    method_parents: frozenset[SymbolKind] = frozenset(),
    budget: ParseBudget | None = None,
) -> tuple[Symbol, ...]:
    """Order definitions by start byte, set parents by containment and build qualified names.

    Only ``containers`` kinds can be parents. A FUNCTION whose parent kind is in
    ``method_parents`` becomes a METHOD. ``budget`` refuses too many definitions, or a process
    over its memory, before any symbol is built.
    """
    ordered = sorted(definitions, key=_END_BYTE, reverse=True)  # stable: then by start, outer first
    if budget is not None:
        budget.check_symbols(len(ordered))
        budget.check_rss("outline not built: definitions found")
    ordered.sort(key=_START_BYTE)
    stack: list[_Open] = []
    symbols: list[Symbol] = []
    for item in ordered:
        while stack and (item.start_byte >= stack[-1].end_byte or item.end_byte > stack[-1].end_byte):
            stack.pop()
        parent = stack[-1] if stack else None
        kind = item.kind
        qualified = item.qualifier or item.name
        if parent is not None:
            qualified = f"{parent.scope}{separator}{qualified}"
            if kind is SymbolKind.FUNCTION and parent.kind in method_parents:
                kind = SymbolKind.METHOD
        symbols.append(
            Symbol(
                kind,
                item.name,
                qualified,
                None if parent is None else parent.symbol_index,
                item.start_line,
                item.end_line,
                item.start_byte,
                item.end_byte,
                item.visibility,
                item.from_macro,
            )
        )
        if kind in containers:
            scope = qualified if item.scope is None else _join(parent, separator, item.scope)
            stack.append(_Open(item.end_byte, len(symbols) - 1, kind, scope))
    return tuple(symbols)


def _join(parent: _Open | None, separator: str, name: str) -> str:
    return name if parent is None else f"{parent.scope}{separator}{name}"
