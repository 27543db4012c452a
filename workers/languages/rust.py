"""The Rust adapter.

Outline rules:

- items of the crate file and of inline modules, recursively: ``mod`` (MODULE), struct, enum,
  union, trait, free functions, ``const`` (CONSTANT), ``static`` (STATIC), ``type`` (TYPE_ALIAS),
  ``macro_rules!`` (MACRO), functions and statics of ``extern`` blocks. Items declared inside
  function bodies are local and not outlined. Enum variants and tuple-struct fields are not
  outlined; named struct and union fields are FIELDs ``S::field``.
- qualified names join with ``::`` from the file's root: ``outer::inner::f``.
- ``impl`` blocks are IMPL symbols named ``impl Type`` or ``impl Trait for Type``, with generic
  arguments stripped from both (``impl<T> From<T> for Wrapper<T>`` -> ``impl From for Wrapper``);
  a negative impl keeps its ``!`` (``impl !Send for Handle``);
  their functions are METHODs qualified by the type, ``Wrapper::new``, with the impl as parent;
  their consts and types are ``Wrapper::NAME``. Trait functions (with or without a body) are
  METHODs ``Trait::m``.
- visibility: ``pub`` PUBLIC, ``pub(crate)`` CRATE, ``pub(super)``/``pub(self)``/``pub(in ..)``
  RESTRICTED, none PRIVATE. Where Rust allows no ``pub``: impl blocks and the members of trait
  impls are PUBLIC, trait members have their trait's visibility, and ``macro_rules!`` is PUBLIC
  when ``#[macro_export]`` and PRIVATE otherwise.
- imports: one Import per leaf of a ``use`` tree (``use a::{b, c::d}`` gives ``a::b`` and
  ``a::c::d``): module is the path before the last segment, name the last segment (``*`` for a
  glob, None for a single-segment path; ``a::{self}`` is ``a``), alias from ``as``. Item-level
  ``use`` only, like items. ``extern crate x as y`` gives module ``x``. Origin: first segment
  ``std``/``core``/``alloc``/``proc_macro`` STDLIB, ``crate``/``self``/``super`` LOCAL, anything
  else THIRD_PARTY (a 2018-edition path into a local module, ``use foo::Bar`` with ``mod foo``,
  reads as THIRD_PARTY: that takes name resolution).
- macros: the body of an item-level macro invocation (``my_macro! { struct Foo; }``) is parsed
  again on its own as Rust; when it parses without errors and holds items or imports, they are
  added with ``from_macro=True`` and spans mapped back to the file (their parents and qualified
  names are those of the invocation's place). Otherwise the invocation is counted in
  ``Outline.unexpanded_macros``. Invocations in expanded bodies are expanded too, up to
  ``MAX_MACRO_DEPTH`` levels. Bodies that cannot start with an item are not parsed (error
  recovery on token soup is slow), and the bodies of one file share a parse budget of
  ``MACRO_PARSE_TIMEOUT_S``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import tree_sitter
import tree_sitter_rust

from parsefleet.contract.errors import ParseFailure
from parsefleet.contract.outline import FileStatus, Import, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages.base import LanguageAdapter
from parsefleet.workers.languages.rust_walk import find_items
from parsefleet.workers.languages.tree import (
    Definition,
    Source,
    build_symbols,
    count_errors,
    field_ids,
    first_named,
    scope_captures,
)
from parsefleet.workers.limits import ParseBudget

__all__ = ["MACRO_PARSE_TIMEOUT_S", "MAX_MACRO_DEPTH", "RustAdapter"]

MAX_MACRO_DEPTH = 3  # macro bodies expanded inside expanded macro bodies, at most
MACRO_PARSE_TIMEOUT_S = 1.0  # parsing all macro bodies of one file, at most (then: unexpanded)

_CONTAINERS = frozenset({SymbolKind.MODULE, SymbolKind.STRUCT, SymbolKind.UNION, SymbolKind.TRAIT, SymbolKind.IMPL})
_METHOD_PARENTS = frozenset({SymbolKind.IMPL, SymbolKind.TRAIT})
_KINDS = {
    "module": SymbolKind.MODULE,
    "struct": SymbolKind.STRUCT,
    "union": SymbolKind.UNION,
    "enum": SymbolKind.ENUM,
    "trait": SymbolKind.TRAIT,
    "function": SymbolKind.FUNCTION,
    "constant": SymbolKind.CONSTANT,
    "static": SymbolKind.STATIC,
    "type_alias": SymbolKind.TYPE_ALIAS,
    "macro_rules": SymbolKind.MACRO,
    "field": SymbolKind.FIELD,
}
# A macro body that can read as items starts like an item (after comments): an attribute, a
# keyword that opens an item, or another macro invocation. Bodies that cannot are not parsed:
# tree-sitter's error recovery on arbitrary token soup costs far more than a clean parse.
_ITEM_START = re.compile(
    rb"\s*(?:(?://[^\n]*|/\*.*?\*/)\s*)*"
    rb"(?:#|(?:pub|fn|struct|enum|union|trait|impl|mod|const|static|type|use|extern|unsafe|async"
    rb"|macro_rules)\b|[A-Za-z_]\w*\s*!)",
    re.DOTALL,
)
_ALIAS, _ARGUMENT, _LIST, _NAME, _PATH, _TRAIT, _TYPE = field_ids(
    tree_sitter_rust.language(), "alias", "argument", "list", "name", "path", "trait", "type"
)
_MODIFIER_STARTS = frozenset({b"p", b"c"})  # the first byte of `pub…` and of `crate`
_STDLIB_CRATES = frozenset({"std", "core", "alloc", "proc_macro"})
_LOCAL_ROOTS = frozenset({"crate", "self", "super"})


@dataclass(slots=True)
class _Items:
    """What one tree (the file, or one macro body) yields."""

    definitions: list[Definition] = field(default_factory=list)
    imports: list[tuple[int, Import]] = field(default_factory=list)  # (start byte, import)
    unexpanded_macros: int = 0

    def merge(self, other: _Items) -> None:
        self.definitions.extend(other.definitions)
        self.imports.extend(other.imports)
        self.unexpanded_macros += other.unexpanded_macros


@dataclass(frozen=True, slots=True)
class _Expansion:
    """How deep in macro bodies an extraction is, and the parse budget all bodies share."""

    budget: ParseBudget
    depth: int = 0

    def deeper(self) -> _Expansion:
        return _Expansion(self.budget, self.depth + 1)


class RustAdapter(LanguageAdapter):
    """Outlines Rust with tree-sitter-rust, reading item-level macro bodies as items."""

    language = "rust"
    query_file = "rust.scm"

    @staticmethod
    def _grammar() -> object:
        return tree_sitter_rust.language()

    def extract(self, tree: tree_sitter.Tree, source: bytes, budget: ParseBudget | None = None) -> Outline:
        root = tree.root_node
        items = self._items(root, Source(source), _Expansion(ParseBudget(MACRO_PARSE_TIMEOUT_S)))
        items.imports.sort(key=lambda pair: pair[0])
        outline = Outline(
            language=self.language,
            symbols=build_symbols(items.definitions, "::", _CONTAINERS, _METHOD_PARENTS, budget),
            imports=tuple(item for _, item in items.imports),
            unexpanded_macros=items.unexpanded_macros,
        )
        if root.has_error:
            return replace(outline, status=FileStatus.PARTIAL, error_count=count_errors(root))
        return outline

    def _items(self, root: tree_sitter.Node, source: Source, expansion: _Expansion) -> _Items:
        items = _Items()
        found = scope_captures(self, root) if root.has_error else find_items(root)
        for name, nodes in found.items():
            if name == "macro":
                for node in nodes:
                    self._expand(node, source, expansion, items)
            elif name == "use":
                items.imports.extend(
                    (node.start_byte + source.byte_offset, item) for node in nodes for item in _uses(source, node)
                )
            elif name == "extern_crate":
                items.imports.extend(
                    (node.start_byte + source.byte_offset, _extern_crate(source, node)) for node in nodes
                )
            else:
                items.definitions.extend(_definitions(source, name, nodes))
        return items

    def _expand(self, invocation: tree_sitter.Node, source: Source, expansion: _Expansion, items: _Items) -> None:
        """Add the items of a macro body that parses as Rust; count the invocation otherwise."""
        count = invocation.named_child_count
        body = invocation.named_child(count - 1) if count else None
        expanded = None
        if expansion.depth < MAX_MACRO_DEPTH and body is not None and body.type == "token_tree":
            expanded = self._expand_body(body, source, expansion)
        if expanded is None or not (expanded.definitions or expanded.imports):
            items.unexpanded_macros += 1 + (0 if expanded is None else expanded.unexpanded_macros)
        else:
            items.merge(expanded)

    def _expand_body(self, body: tree_sitter.Node, source: Source, expansion: _Expansion) -> _Items | None:
        """The items of a token tree that may hold items and parses cleanly within the budget."""
        start, end = body.start_byte + 1, body.end_byte - 1  # inside the brackets
        if not _ITEM_START.match(source.data, start, end):
            return None
        inner = source.data[start:end]
        try:
            tree = self.parse(inner, expansion.budget)
        except ParseFailure:
            return None
        if tree.root_node.has_error:
            return None
        nested = Source(
            inner,
            byte_offset=source.byte_offset + start,
            row_offset=source.row_offset + body.start_point[0],
            from_macro=True,
        )
        return self._items(tree.root_node, nested, expansion.deeper())


def _definitions(source: Source, capture: str, nodes: list[tree_sitter.Node]) -> list[Definition]:
    if capture == "impl":
        return [_impl(source, node) for node in nodes]
    kind_name, _, rule = capture.partition(".")
    kind = _KINDS[kind_name]
    visibility_of = _VISIBILITY_RULES.get(rule, _visibility)
    definitions = []
    for node in nodes:
        name_node = node.child_by_field_id(_NAME)
        name = "" if name_node is None else source.text(name_node)
        definitions.append(source.definition(kind, name, node, visibility_of(source, node)))
    return definitions


def _impl(source: Source, node: tree_sitter.Node) -> Definition:
    type_node = node.child_by_field_id(_TYPE)
    type_name = _type_name(source, type_node)
    trait = node.child_by_field_id(_TRAIT)
    if trait is None:
        name = f"impl {type_name}"
    else:  # a negative impl keeps its `!`: `impl !Send for T` says the opposite of `impl Send for T`
        negative = "!" if _negative(source, node, type_node) else ""
        name = f"impl {negative}{_type_name(source, trait)} for {type_name}"
    return source.definition(SymbolKind.IMPL, name, node, Visibility.PUBLIC, scope=type_name)


def _negative(source: Source, impl: tree_sitter.Node, type_node: tree_sitter.Node | None) -> bool:
    """Whether the impl has a ``!`` token; its children are built only when its header (up to the
    self type) holds a ``!`` byte at all."""
    header_end = impl.end_byte if type_node is None else type_node.end_byte
    if source.data.find(b"!", impl.start_byte, header_end) < 0:
        return False
    return any(child.type == "!" for child in impl.children)


def _type_name(source: Source, node: tree_sitter.Node | None) -> str:
    """A type as written, generic arguments stripped from the outermost name."""
    while node is not None and node.type == "generic_type":
        node = node.child_by_field_id(_TYPE)
    return "" if node is None else " ".join(source.text(node).split())


def _visibility(source: Source, node: tree_sitter.Node) -> Visibility:
    """The item's own: its first child when it is a ``visibility_modifier`` (``pub…``, ``crate``).

    An item that starts with neither ``p`` nor ``c`` has none (most items: ``fn``, ``struct``,
    ``impl``…), which the first byte tells without asking the tree for the child.
    """
    if source.data[node.start_byte : node.start_byte + 1] not in _MODIFIER_STARTS:
        return Visibility.PRIVATE
    modifier = first_named(node)
    if modifier is None or modifier.type != "visibility_modifier":
        return Visibility.PRIVATE
    text = "".join(source.text(modifier).split())
    if text == "pub":
        return Visibility.PUBLIC
    if text in ("pub(crate)", "crate"):
        return Visibility.CRATE
    return Visibility.RESTRICTED


def _public(_source: Source, _node: tree_sitter.Node) -> Visibility:
    return Visibility.PUBLIC


def _trait_visibility(source: Source, node: tree_sitter.Node) -> Visibility:
    """A trait member's: its trait's (member -> declaration_list -> trait_item)."""
    body = node.parent
    trait = None if body is None else body.parent
    return Visibility.PRIVATE if trait is None else _visibility(source, trait)


def _macro_visibility(source: Source, node: tree_sitter.Node) -> Visibility:
    """``#[macro_export]`` among the attributes right before a ``macro_rules!``."""
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type in ("attribute_item", "line_comment", "block_comment"):
        if sibling.type == "attribute_item" and "macro_export" in source.text(sibling):
            return Visibility.PUBLIC
        sibling = sibling.prev_named_sibling
    return Visibility.PRIVATE


# capture-name suffix -> where the visibility comes from (no suffix: the item's own `pub`)
_VISIBILITY_RULES: dict[str, Callable[[Source, tree_sitter.Node], Visibility]] = {
    "public": _public,
    "trait": _trait_visibility,
    "export": _macro_visibility,
}


# --- imports -------------------------------------------------------------------------------------

_Leaf = tuple[tuple[str, ...], str | None, bool]  # (path segments, alias, is glob)


def _uses(source: Source, node: tree_sitter.Node) -> Iterator[Import]:
    argument = node.child_by_field_id(_ARGUMENT)
    if argument is None:
        return
    line = source.line(node)
    for segments, alias, glob in _leaves(source, argument, ()):
        yield _use_import(segments, alias, glob, line)


def _leaves(source: Source, node: tree_sitter.Node, prefix: tuple[str, ...]) -> Iterator[_Leaf]:
    """The leaves of a use tree, each with its full path."""
    kind = node.type
    if kind == "use_list":
        for child in node.named_children:
            yield from _leaves(source, child, prefix)
    elif kind == "scoped_use_list":
        path = node.child_by_field_id(_PATH)
        items = node.child_by_field_id(_LIST)
        if items is not None:
            yield from _leaves(source, items, prefix + _segments(source, path))
    elif kind == "use_as_clause":
        alias = node.child_by_field_id(_ALIAS)
        segments = prefix + _segments(source, node.child_by_field_id(_PATH))
        yield segments, None if alias is None else source.text(alias), False
    elif kind == "use_wildcard":
        yield prefix + _segments(source, first_named(node)), None, True
    elif kind not in ("line_comment", "block_comment"):
        yield prefix + _segments(source, node), None, False


def _segments(source: Source, node: tree_sitter.Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    return tuple(filter(None, "".join(source.text(node).split()).split("::")))


def _use_import(segments: tuple[str, ...], alias: str | None, glob: bool, line: int) -> Import:
    if len(segments) > 1 and segments[-1] == "self":  # `a::{self}` imports `a`
        segments = segments[:-1]
    if glob or len(segments) < 2:
        module, name = "::".join(segments), "*" if glob else None
    else:
        module, name = "::".join(segments[:-1]), segments[-1]
    return Import(module, name, alias, _origin(segments[0] if segments else ""), line)


def _extern_crate(source: Source, node: tree_sitter.Node) -> Import:
    name = node.child_by_field_id(_NAME)
    alias = node.child_by_field_id(_ALIAS)
    module = "" if name is None else source.text(name)
    return Import(module, None, None if alias is None else source.text(alias), _origin(module), source.line(node))


def _origin(root: str) -> ImportOrigin:
    if root in _STDLIB_CRATES:
        return ImportOrigin.STDLIB
    if root in _LOCAL_ROOTS:
        return ImportOrigin.LOCAL
    return ImportOrigin.THIRD_PARTY
