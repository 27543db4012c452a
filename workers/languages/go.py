"""The Go adapter.

Outline rules:

- the package clause is a MODULE symbol spanning the clause (name and qualified name: the package
  name). Top-level symbols are qualified by their own name only, not by the package, and have no
  parent (the package clause contains nothing).
- functions are FUNCTIONs; methods are METHODs qualified by their receiver type, ``(*T).M`` for a
  pointer receiver and ``T.M`` for a value receiver, type parameters stripped (``(*T[K]).M`` ->
  ``(*T).M``), comments inside the receiver skipped; a receiver type that is not a type name
  (``[]int``, ``interface{}``: invalid Go) leaves the method unqualified.
- type specs: a struct is a STRUCT, an interface an INTERFACE, anything else a TYPE_ALIAS, both
  ``type A = B`` and ``type A B`` (the model has no kind for defined types). Struct fields are
  FIELDs ``T.f`` (an embedded field is named after its type, ``io.Reader`` -> ``T.Reader``);
  interface methods are METHODs ``I.M``. Fields of nested anonymous structs are not outlined.
- top-level ``const`` and ``var`` specs give one CONSTANT or VARIABLE per name, spanning the spec;
  blank names (``_``) declare nothing and are skipped.
- only package-level declarations are outlined: types and constants local to a function are not.
- visibility: an upper-case first letter is PUBLIC (exported), anything else PRIVATE; the package
  itself is PUBLIC.
- imports: module is the import path, alias the package name given (``_``, ``.`` or an
  identifier). Origin: ``./`` and ``../`` paths are LOCAL, a path whose first element has no dot
  (``fmt``, ``net/http``) is STDLIB, anything else THIRD_PARTY.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import tree_sitter
import tree_sitter_go

from parsefleet.contract.outline import FileStatus, Import, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages.base import LanguageAdapter
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

__all__ = ["GoAdapter"]

_NAME, _PATH, _RECEIVER, _TYPE = field_ids(tree_sitter_go.language(), "name", "path", "receiver", "type")

_CONTAINERS = frozenset({SymbolKind.STRUCT, SymbolKind.INTERFACE})
_TYPE_KINDS = {"struct_type": SymbolKind.STRUCT, "interface_type": SymbolKind.INTERFACE}
_UNWRAP = frozenset({"pointer_type", "parenthesized_type", "generic_type", "qualified_type"})


class GoAdapter(LanguageAdapter):
    """Outlines Go with tree-sitter-go."""

    language = "go"
    query_file = "go.scm"

    @staticmethod
    def _grammar() -> object:
        return tree_sitter_go.language()

    def extract(self, tree: tree_sitter.Tree, source: bytes, budget: ParseBudget | None = None) -> Outline:
        root = tree.root_node
        found = scope_captures(self, root)
        text = Source(source)
        definitions = [
            definition
            for name, nodes in found.items()
            if name in _DEFINITIONS
            for node in nodes
            for definition in _DEFINITIONS[name](text, node)
        ]
        import_nodes = sorted(found.get("import", ()), key=lambda node: node.start_byte)
        outline = Outline(
            language=self.language,
            symbols=build_symbols(definitions, ".", _CONTAINERS, budget=budget),
            imports=tuple(_import(text, node) for node in import_nodes),
        )
        if root.has_error:
            return replace(outline, status=FileStatus.PARTIAL, error_count=count_errors(root))
        return outline


def _visibility(name: str) -> Visibility:
    return Visibility.PUBLIC if name[:1].isupper() else Visibility.PRIVATE


def _name(source: Source, node: tree_sitter.Node) -> str:
    name = node.child_by_field_id(_NAME)
    return "" if name is None else source.text(name)


def _package(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
    name = first_named(node)
    if name is not None:
        yield source.definition(SymbolKind.MODULE, source.text(name), node, Visibility.PUBLIC)


def _function(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
    name = _name(source, node)
    yield source.definition(SymbolKind.FUNCTION, name, node, _visibility(name))


def _method(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
    name = _name(source, node)
    receiver = _receiver(source, node.child_by_field_id(_RECEIVER))
    qualifier = f"{receiver}.{name}" if receiver else name
    yield source.definition(SymbolKind.METHOD, name, node, _visibility(name), qualifier=qualifier)


def _receiver(source: Source, receiver: tree_sitter.Node | None) -> str:
    """``(*T)`` or ``T`` from a receiver list, type parameters stripped; '' when there is none, or
    when the receiver type is not a type name (``[]int``, ``interface{}``: invalid Go)."""
    declaration = None if receiver is None else _first_syntax(receiver)
    if declaration is None or declaration.type != "parameter_declaration":
        return ""
    node = declaration.child_by_field_id(_TYPE)
    pointer = False
    while node is not None and node.type in _UNWRAP:
        pointer = pointer or node.type == "pointer_type"
        node = _unwrapped(node)
    if node is None or node.type != "type_identifier":
        return ""
    name = source.text(node)
    return f"(*{name})" if pointer else name


def _unwrapped(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The named type inside ``*T``, ``(T)``, ``T[K]`` or ``pkg.T``."""
    if node.type == "generic_type":
        return node.child_by_field_id(_TYPE)
    if node.type == "qualified_type":
        return node.child_by_field_id(_NAME)
    return _first_syntax(node)


def _first_syntax(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The first named child that is not a comment (``func (/* c */ t *T) M()``, ``* /* c */ T``)."""
    return next((child for child in node.named_children if child.type != "comment"), None)


def _type(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
    name = _name(source, node)
    type_node = node.child_by_field_id(_TYPE) if node.type == "type_spec" else None
    kind = SymbolKind.TYPE_ALIAS if type_node is None else _TYPE_KINDS.get(type_node.type, SymbolKind.TYPE_ALIAS)
    yield source.definition(kind, name, node, _visibility(name))


def _field(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
    names = [source.text(name) for name in node.children_by_field_id(_NAME) if name.is_named]
    if not names:  # an embedded field is named after its type
        embedded = node.child_by_field_id(_TYPE)
        while embedded is not None and embedded.type in _UNWRAP:
            embedded = _unwrapped(embedded)
        names = [] if embedded is None else [source.text(embedded)]
    for name in names:
        yield source.definition(SymbolKind.FIELD, name, node, _visibility(name))


def _interface_method(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
    name = _name(source, node)
    yield source.definition(SymbolKind.METHOD, name, node, _visibility(name))


def _values(kind: SymbolKind) -> Callable[[Source, tree_sitter.Node], Iterable[Definition]]:
    def names(source: Source, node: tree_sitter.Node) -> Iterator[Definition]:
        for name_node in node.children_by_field_id(_NAME):
            name = source.text(name_node)
            if name_node.is_named and name != "_":
                yield source.definition(kind, name, node, _visibility(name))

    return names


_DEFINITIONS: dict[str, Callable[[Source, tree_sitter.Node], Iterable[Definition]]] = {
    "package": _package,
    "function": _function,
    "method": _method,
    "type": _type,
    "field": _field,
    "interface_method": _interface_method,
    "constant": _values(SymbolKind.CONSTANT),
    "variable": _values(SymbolKind.VARIABLE),
}


def _import(source: Source, spec: tree_sitter.Node) -> Import:
    path_node = spec.child_by_field_id(_PATH)
    path = "" if path_node is None else source.text(path_node)[1:-1]
    alias = spec.child_by_field_id(_NAME)
    return Import(
        module=path,
        name=None,
        alias=None if alias is None else source.text(alias),
        origin=_origin(path),
        line=source.line(spec),
    )


def _origin(path: str) -> ImportOrigin:
    if path.startswith(("./", "../")) or path in (".", ".."):
        return ImportOrigin.LOCAL
    return ImportOrigin.THIRD_PARTY if "." in path.split("/", 1)[0] else ImportOrigin.STDLIB
