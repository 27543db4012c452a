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
from dataclasses import dataclass, field, replace

import tree_sitter
import tree_sitter_go

from parsefleet.contract.outline import FileStatus, Import, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages.base import LanguageAdapter
from parsefleet.workers.languages.tree import (
    Definition,
    OrderedSymbols,
    Source,
    build_symbols,
    count_errors,
    field_ids,
    first_named,
    kind_ids,
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
        if root.has_error:
            outline = self.query_outline(root, source, budget)
            return replace(outline, status=FileStatus.PARTIAL, error_count=count_errors(root))
        text = Source(source)
        walk = _Walk(text, OrderedSymbols.within(text, budget))
        walk.declarations(root)
        if budget is not None:  # the cap and the memory budget, as build_symbols checks them
            walk.out.settle()
            budget.check_rss("outline not kept: definitions found")
        return Outline(language=self.language, symbols=tuple(walk.out.symbols), imports=tuple(walk.imports))

    def query_outline(self, root: tree_sitter.Node, source: bytes, budget: ParseBudget | None = None) -> Outline:
        """The outline of go.scm's captures, scope by scope: what a tree with syntax errors gets,
        since its ERROR nodes may hold declarations. On a clean tree the walk finds the same."""
        text = Source(source)
        found = scope_captures(self, root)
        definitions = [
            definition
            for name, nodes in found.items()
            if name in _DEFINITIONS
            for node in nodes
            for definition in _DEFINITIONS[name](text, node)
        ]
        import_nodes = sorted(found.get("import", ()), key=lambda node: node.start_byte)
        return Outline(
            language=self.language,
            symbols=build_symbols(definitions, ".", _CONTAINERS, budget=budget),
            imports=tuple(_import(text, node) for node in import_nodes),
        )


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
    for name in _field_names(source, node):
        yield source.definition(SymbolKind.FIELD, name, node, _visibility(name))


def _field_names(source: Source, node: tree_sitter.Node) -> list[str]:
    """A field declaration's names; an embedded field is named after its type."""
    names = [source.text(name) for name in node.children_by_field_id(_NAME) if name.is_named]
    if names:
        return names
    embedded = node.child_by_field_id(_TYPE)
    while embedded is not None and embedded.type in _UNWRAP:
        embedded = _unwrapped(embedded)
    return [] if embedded is None else [source.text(embedded)]


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


# --- the walk over the declarations of a clean tree ---------------------------------------------


@dataclass(slots=True)
class _Walk:
    """What go.scm captures in an error-free tree, found by walking the top-level declarations.

    Go outlines only package-level declarations, and their members sit at fixed places under them
    (a struct's fields, an interface's methods), so the walk visits those places alone, in
    document order: each symbol is built as met, in the order ``build_symbols`` sorts them to,
    with its parent (the struct or interface of a member) known without a containment search.
    """

    source: Source
    out: OrderedSymbols
    imports: list[Import] = field(default_factory=list)

    def declarations(self, root: tree_sitter.Node) -> None:
        for node in root.named_children:
            visit = _TOP_LEVEL.get(node.kind_id)
            if visit is not None:
                visit(self, node)

    def add(
        self, kind: SymbolKind, name: str, node: tree_sitter.Node, *, qualified: str = "", parent: int | None = None
    ) -> int:
        return self.out.add(kind, name, node, _visibility(name), qualified_name=qualified or name, parent=parent)

    def package(self, node: tree_sitter.Node) -> None:
        name = first_named(node)
        if name is not None:
            text = self.source.text(name)
            self.out.add(SymbolKind.MODULE, text, node, Visibility.PUBLIC, qualified_name=text, parent=None)

    def function(self, node: tree_sitter.Node) -> None:
        self.add(SymbolKind.FUNCTION, _name(self.source, node), node)

    def method(self, node: tree_sitter.Node) -> None:
        name = _name(self.source, node)
        receiver = _receiver(self.source, node.child_by_field_id(_RECEIVER))
        self.add(SymbolKind.METHOD, name, node, qualified=f"{receiver}.{name}" if receiver else name)

    def types(self, declaration: tree_sitter.Node) -> None:
        for spec in declaration.named_children:
            kind_id = spec.kind_id
            if kind_id in _TYPE_SPECS:
                self.type_spec(spec, _TYPE_SPECS[kind_id])

    def type_spec(self, spec: tree_sitter.Node, is_spec: bool) -> None:
        name = _name(self.source, spec)
        type_node = spec.child_by_field_id(_TYPE) if is_spec else None
        kind = SymbolKind.TYPE_ALIAS if type_node is None else _TYPE_KINDS.get(type_node.type, SymbolKind.TYPE_ALIAS)
        parent = self.add(kind, name, spec)
        if kind is SymbolKind.STRUCT and type_node is not None:
            self.fields(type_node, name, parent)
        elif kind is SymbolKind.INTERFACE and type_node is not None:
            for member in type_node.named_children:
                if member.kind_id in _METHOD_ELEMS:
                    member_name = _name(self.source, member)
                    self.add(SymbolKind.METHOD, member_name, member, qualified=f"{name}.{member_name}", parent=parent)

    def fields(self, struct: tree_sitter.Node, owner: str, parent: int) -> None:
        for declarations in struct.named_children:
            if declarations.kind_id in _FIELD_LISTS:
                for declaration in declarations.named_children:
                    if declaration.kind_id in _FIELDS:
                        for name in _field_names(self.source, declaration):
                            self.add(SymbolKind.FIELD, name, declaration, qualified=f"{owner}.{name}", parent=parent)

    def values(self, declaration: tree_sitter.Node) -> None:
        for spec in declaration.named_children:
            kind_id = spec.kind_id
            if kind_id in _VALUE_SPECS:
                self.value_spec(_VALUE_SPECS[kind_id], spec)
            elif kind_id in _VAR_SPEC_LISTS:
                for inner in spec.named_children:
                    if inner.kind_id in _VALUE_SPECS:
                        self.value_spec(_VALUE_SPECS[inner.kind_id], inner)

    def value_spec(self, kind: SymbolKind, spec: tree_sitter.Node) -> None:
        for name_node in spec.children_by_field_id(_NAME):
            name = self.source.text(name_node)
            if name_node.is_named and name != "_":
                self.add(kind, name, spec)

    def import_declaration(self, declaration: tree_sitter.Node) -> None:
        for spec in declaration.named_children:
            kind_id = spec.kind_id
            if kind_id in _IMPORT_SPECS:
                self.imports.append(_import(self.source, spec))
            elif kind_id in _IMPORT_SPEC_LISTS:
                self.imports.extend(
                    _import(self.source, inner) for inner in spec.named_children if inner.kind_id in _IMPORT_SPECS
                )


_GRAMMAR = tree_sitter_go.language()


def _ids(*names: str) -> frozenset[int]:
    return frozenset(kind_ids(_GRAMMAR, dict.fromkeys(names, True)))


_TYPE_SPECS = kind_ids(_GRAMMAR, {"type_spec": True, "type_alias": False})  # -> whether a type_spec
_METHOD_ELEMS = _ids("method_elem")
_FIELD_LISTS = _ids("field_declaration_list")
_FIELDS = _ids("field_declaration")
_VALUE_SPECS = kind_ids(_GRAMMAR, {"const_spec": SymbolKind.CONSTANT, "var_spec": SymbolKind.VARIABLE})
_VAR_SPEC_LISTS = _ids("var_spec_list")
_IMPORT_SPECS = _ids("import_spec")
_IMPORT_SPEC_LISTS = _ids("import_spec_list")
_TOP_LEVEL: dict[int, Callable[[_Walk, tree_sitter.Node], None]] = kind_ids(
    _GRAMMAR,
    {
        "package_clause": _Walk.package,
        "function_declaration": _Walk.function,
        "method_declaration": _Walk.method,
        "type_declaration": _Walk.types,
        "const_declaration": _Walk.values,
        "var_declaration": _Walk.values,
        "import_declaration": _Walk.import_declaration,
    },
)
