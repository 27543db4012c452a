"""The Python adapter.

Outline rules (``python_reference`` follows the same ones with CPython's ast):

- classes (nested too) and functions; a function whose nearest enclosing definition is a class is
  a METHOD; nested functions are FUNCTIONs qualified by their enclosing definitions
  (``outer.inner``, ``Outer.Inner.method``). A decorated definition spans the ``def``/``class``
  statement without its decorators, so its start line is ast's ``lineno``.
- module-level assignments (also under module-level ``if``/``try``/``with``, not under loops or
  ``match``): UPPER_CASE names are CONSTANTs, others VARIABLEs. Chained (``a = b = 1``) and flat
  tuple/list targets give one symbol per plain name; annotated assignments count, with or
  without a value; augmented assignments and attribute or subscript targets do not. Every
  assignment is a symbol, so a name assigned twice appears twice.
- ``type X = ...`` statements are TYPE_ALIASes, wherever they are.
- imports: every ``import`` statement in the file, at any depth (an import inside a function is
  a dependency too), one ``Import`` per imported name, with the statement's line.

Finding the nodes: a clean tree is walked statement list by statement list (module, bodies,
compound statements), never into expressions; that costs about a third of running the query
over the tree (~11% of the parse time against ~36%), or of running it scope by scope, since
Python has a scope per block. The body of a definition is walked only when its text holds one
of the keywords ``def``, ``class``, ``import``, ``type`` as a word: most function bodies hold
none, and skipping them cuts the walk by a quarter. The walk goes depth first in document
order (``_OrderedWalk``), so each symbol is built when met, its parent and qualified name those of
the enclosing definition: no intermediate record, sort or containment search (``find_by_walk``
is the same walk returning the nodes by capture name, which tests compare with the query's
captures and the ordered walk with). A tree with syntax errors goes to CPython's ast (files up to
``FALLBACK_MAX_BYTES``): when ast accepts the file its outline is used (status FALLBACK);
otherwise queries/python.scm runs over the whole tree, which finds definitions wherever
tree-sitter's error recovery left them, and the outline is what it recovered (status PARTIAL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import tree_sitter
import tree_sitter_python

from parsefleet.contract.outline import FileStatus, Import, Outline, SymbolKind
from parsefleet.workers.languages.base import LanguageAdapter
from parsefleet.workers.languages.python_reference import (
    python_origin,
    python_visibility,
    reference_outline,
    variable_kind,
)
from parsefleet.workers.languages.tree import (
    Definition,
    OrderedSymbols,
    Source,
    build_symbols,
    count_errors,
    field_ids,
    first_named,
    kind_ids,
)
from parsefleet.workers.limits import ParseBudget

__all__ = ["FALLBACK_MAX_BYTES", "Found", "PythonAdapter", "find_by_walk"]

_ALIAS, _BODY, _DEFINITION, _LEFT, _MODULE_NAME, _NAME, _RIGHT, _TYPE = field_ids(
    tree_sitter_python.language(), "alias", "body", "definition", "left", "module_name", "name", "right", "type"
)

# CPython's ast takes about 60 MB per MB of source and nothing watches it while it runs (unlike the
# tree-sitter parse): larger files with syntax errors keep the tree-sitter outline.
FALLBACK_MAX_BYTES = 1_048_576

Found = dict[str, list[tree_sitter.Node]]  # capture name (as in python.scm) -> nodes

_CONTAINERS = frozenset({SymbolKind.CLASS, SymbolKind.FUNCTION, SymbolKind.METHOD})
_METHOD_PARENTS = frozenset({SymbolKind.CLASS})
_NAMED = (("class", SymbolKind.CLASS), ("function", SymbolKind.FUNCTION))
_TUPLE_TARGETS = frozenset({"pattern_list", "tuple_pattern", "list_pattern"})
_ALIAS_NAMES = frozenset({"identifier", "generic_type"})
_CAPTURES = ("class", "function", "type_alias", "assignment", "import")  # as in python.scm
# the keywords in what a definition's body may hold to find (see _may_define), and the
# bytes around them that make a word of them (or of `default`, `dtype`, `importlib`: not keywords)
_KEYWORDS = (b"def", b"class", b"import", b"type")
_WORD_BYTES = frozenset(
    bytes([byte])
    for byte in b"_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + bytes(range(128, 256))
)
_CLAUSES = frozenset({"elif_clause", "else_clause", "except_clause", "finally_clause", "case_clause"})
# the ancestors a module-level assignment may have (module-level if/try/with, recovered errors)
_TOP_LEVEL_PATH = frozenset(
    {"module", "block", "expression_statement", "if_statement", "try_statement", "with_statement", "ERROR"}
    | _CLAUSES - {"case_clause"}
)


class PythonAdapter(LanguageAdapter):
    """Outlines Python with tree-sitter-python, falling back on CPython's ast."""

    language = "python"
    query_file = "python.scm"

    @staticmethod
    def _grammar() -> object:
        return tree_sitter_python.language()

    def extract(self, tree: tree_sitter.Tree, source: bytes, budget: ParseBudget | None = None) -> Outline:
        if tree.root_node.has_error and len(source) <= FALLBACK_MAX_BYTES:
            reference = reference_outline(source)
            if reference is not None:
                return replace(reference, status=FileStatus.FALLBACK)
        return self.tree_outline(tree, source, budget)

    def tree_outline(self, tree: tree_sitter.Tree, source: bytes, budget: ParseBudget | None = None) -> Outline:
        """The tree-sitter outline only, never the ast fallback (PARSED, or PARTIAL with errors)."""
        root = tree.root_node
        if not root.has_error:
            text = Source(source)
            walk = _OrderedWalk(text, OrderedSymbols.within(text, budget))
            walk.run(root)
            if budget is not None:  # as outline_of_captures and build_symbols check them
                budget.check_symbols(walk.named)
                walk.out.settle()
                budget.check_rss("outline not kept: definitions found")
            return Outline(
                language=self.language,
                symbols=tuple(walk.out.symbols),
                imports=tuple(item for node in walk.imports for item in _imports(text, node)),
            )
        return replace(
            self.outline_of_captures(self.find_by_query(root), source, budget),
            status=FileStatus.PARTIAL,
            error_count=count_errors(root),
        )

    def find_by_query(self, root: tree_sitter.Node) -> Found:
        """The query's captures over the whole tree, assignments kept at module level only."""
        found = self.captures(root)
        found["assignment"] = [node for node in found.get("assignment", ()) if _at_top_level(node)]
        return found

    def outline_of_captures(self, found: Found, data: bytes, budget: ParseBudget | None = None) -> Outline:
        """The outline of found nodes (the query's captures, or ``find_by_walk``'s), through ``build_symbols``."""
        if budget is not None:  # each class and function is one definition: refuse before building any
            budget.check_symbols(sum(len(found.get(name, ())) for name, _kind in _NAMED))
        source = Source(data)
        definitions = [_named(source, kind, node) for name, kind in _NAMED for node in found.get(name, ())]
        definitions.extend(_type_alias(source, node) for node in found.get("type_alias", ()))
        for node in found.get("assignment", ()):
            definitions.extend(_variables(source, node))
        import_nodes = sorted(found.get("import", ()), key=lambda node: node.start_byte)
        return Outline(
            language=self.language,
            symbols=build_symbols(definitions, ".", _CONTAINERS, _METHOD_PARENTS, budget),
            imports=tuple(item for node in import_nodes for item in _imports(source, node)),
        )


# --- the walk over statement lists (clean trees) --------------------------------------------

_Todo = list[tuple[tree_sitter.Node, bool]]  # statement lists still to visit, and if top level


@dataclass(slots=True)
class _Walk:
    """The source walked, what the walk found and the statement lists it has still to visit."""

    source: bytes
    found: Found = field(default_factory=lambda: {name: [] for name in _CAPTURES})
    todo: _Todo = field(default_factory=list)


_Visitor = Callable[[tree_sitter.Node, bool, _Walk], None]


def find_by_walk(root: tree_sitter.Node, source: bytes) -> Found:
    """Find what python.scm captures, visiting statements only (never expressions).

    Compound statements, their clauses and their blocks are visited like statement lists: their
    other named children (conditions, patterns) have no visitor. The body of a definition is
    skipped when its text cannot hold anything to find (see ``_may_define``).
    """
    walk = _Walk(source)
    walk.todo.append((root, True))
    while walk.todo:
        statements, top_level = walk.todo.pop()
        visitors = _TOP_LEVEL_VISITORS if top_level else _VISITORS
        for node in statements.named_children:
            visit = visitors.get(node.kind_id)
            if visit is not None:
                visit(node, top_level, walk)
    return walk.found


def _may_define(source: bytes, start: int, end: int) -> bool:
    """Whether ``source[start:end]`` may hold a definition, an import or a type alias.

    Below the top level only those are found (assignments count at top level only), and each
    holds its keyword as a whole word: ``def`` (also ``async def``, decorated), ``class``,
    ``import`` (also ``from m import n``), ``type``. Most function bodies hold none of the four,
    and a few substring searches cost far less than visiting their statements.
    """
    for keyword in _KEYWORDS:
        at = source.find(keyword, start, end)
        while at >= 0:
            after = at + len(keyword)
            if source[at - 1 : at] not in _WORD_BYTES and source[after : after + 1] not in _WORD_BYTES:
                return True
            at = source.find(keyword, after, end)
    return False


def _visit_definition(node: tree_sitter.Node, _top_level: bool, walk: _Walk) -> None:
    walk.found["class" if node.type == "class_definition" else "function"].append(node)
    body = node.child_by_field_id(_BODY)
    if body is not None and _may_define(walk.source, body.start_byte, body.end_byte):
        walk.todo.append((body, False))


def _visit_decorated(node: tree_sitter.Node, top_level: bool, walk: _Walk) -> None:
    definition = node.child_by_field_id(_DEFINITION)
    if definition is not None:
        _visit_definition(definition, top_level, walk)


def _visit_expression(node: tree_sitter.Node, _top_level: bool, walk: _Walk) -> None:
    """Only visited at top level: a module-level assignment."""
    first = first_named(node)
    if first is not None and first.type == "assignment":
        walk.found["assignment"].append(first)


def _visit_import(node: tree_sitter.Node, _top_level: bool, walk: _Walk) -> None:
    walk.found["import"].append(node)


def _visit_type_alias(node: tree_sitter.Node, _top_level: bool, walk: _Walk) -> None:
    left = node.child_by_field_id(_LEFT)
    name = None if left is None else first_named(left)
    if name is not None and name.type in _ALIAS_NAMES:
        walk.found["type_alias"].append(node)


def _visit_compound(node: tree_sitter.Node, top_level: bool, walk: _Walk) -> None:
    """if/try/with, their clauses and blocks: statements in them are as top level as the compound."""
    walk.todo.append((node, top_level))


def _visit_loop(node: tree_sitter.Node, _top_level: bool, walk: _Walk) -> None:
    """for/while/match: statements in them are never top level."""
    walk.todo.append((node, False))


_VISITOR_NAMES: dict[str, _Visitor] = {
    "class_definition": _visit_definition,
    "function_definition": _visit_definition,
    "decorated_definition": _visit_decorated,
    "import_statement": _visit_import,
    "import_from_statement": _visit_import,
    "future_import_statement": _visit_import,
    "type_alias_statement": _visit_type_alias,
    "if_statement": _visit_compound,
    "try_statement": _visit_compound,
    "with_statement": _visit_compound,
    "for_statement": _visit_loop,
    "while_statement": _visit_loop,
    "match_statement": _visit_loop,
    # inside compound statements (a clean tree has no bare block in a statement list)
    "block": _visit_compound,
    **dict.fromkeys(_CLAUSES, _visit_compound),
}
# keyed by Node.kind_id: the walk looks up every statement it visits
_VISITORS = kind_ids(tree_sitter_python.language(), _VISITOR_NAMES)
_TOP_LEVEL_VISITORS = kind_ids(
    tree_sitter_python.language(), {**_VISITOR_NAMES, "expression_statement": _visit_expression}
)


# --- the same walk in document order, building symbols as it meets them (clean trees) ------------


class _Frame(NamedTuple):
    """Where the ordered walk is: at top level or not, and the innermost enclosing definition
    (its index in the symbols, its kind, its qualified name and a dot; none at module level)."""

    top_level: bool
    parent: int | None = None
    parent_kind: SymbolKind | None = None
    prefix: str = ""


_MODULE_FRAME = _Frame(True)


@dataclass(slots=True)
class _OrderedWalk:
    """``find_by_walk`` visiting statement lists depth first in document order, with the frame of
    each: every symbol is built when met, in the order ``build_symbols`` sorts definitions to, its
    parent and qualified name taken from the frame instead of a containment search; the import
    statements come out in document order. It finds what ``find_by_walk`` finds (a test checks)."""

    source: Source
    out: OrderedSymbols
    imports: list[tree_sitter.Node] = field(default_factory=list)
    named: int = 0  # classes and functions among the definitions
    stack: list[tuple[Iterator[tree_sitter.Node], _Frame]] = field(default_factory=list)

    def run(self, root: tree_sitter.Node) -> None:
        stack = self.stack
        stack.append((iter(root.named_children), _MODULE_FRAME))
        while stack:
            statements, frame = stack[-1]
            visitors = _ORDERED_TOP_LEVEL_VISITORS if frame.top_level else _ORDERED_VISITORS
            for node in statements:
                visit = visitors.get(node.kind_id)
                if visit is not None and visit(self, node, frame):
                    break  # a statement list was pushed: visit it first, then go on with this one
            else:
                stack.pop()

    def enter(self, node: tree_sitter.Node, frame: _Frame) -> bool:
        self.stack.append((iter(node.named_children), frame))
        return True

    def definition(self, node: tree_sitter.Node, frame: _Frame) -> bool:
        name_node = node.child_by_field_id(_NAME)
        name = "" if name_node is None else self.source.text(name_node)
        if node.kind_id in _CLASS_IDS:
            kind = SymbolKind.CLASS
        else:
            kind = SymbolKind.METHOD if frame.parent_kind is SymbolKind.CLASS else SymbolKind.FUNCTION
        qualified = frame.prefix + name
        index = self.out.add(kind, name, node, python_visibility(name), qualified_name=qualified, parent=frame.parent)
        self.named += 1
        body = node.child_by_field_id(_BODY)
        if body is None or not _may_define(self.source.data, body.start_byte, body.end_byte):
            return False
        return self.enter(body, _Frame(False, index, kind, qualified + "."))

    def decorated(self, node: tree_sitter.Node, frame: _Frame) -> bool:
        definition = node.child_by_field_id(_DEFINITION)
        return definition is not None and self.definition(definition, frame)

    def expression(self, node: tree_sitter.Node, _frame: _Frame) -> bool:
        """Only visited at top level: a module-level assignment."""
        first = first_named(node)
        if first is not None and first.type == "assignment":
            for name in _variable_names(self.source, first):
                visibility = python_visibility(name)
                kind = variable_kind(name)
                self.out.add(kind, name, first, visibility, qualified_name=name, parent=None)
        return False

    def import_statement(self, node: tree_sitter.Node, _frame: _Frame) -> bool:
        self.imports.append(node)
        return False

    def type_alias(self, node: tree_sitter.Node, frame: _Frame) -> bool:
        left = node.child_by_field_id(_LEFT)
        name_node = None if left is None else first_named(left)
        if name_node is not None and name_node.type in _ALIAS_NAMES:
            name = _type_alias_name(self.source, node)
            self.out.add(
                SymbolKind.TYPE_ALIAS,
                name,
                node,
                python_visibility(name),
                qualified_name=frame.prefix + name,
                parent=frame.parent,
            )
        return False

    def loop(self, node: tree_sitter.Node, frame: _Frame) -> bool:
        """for/while/match: statements in them are never top level."""
        return self.enter(node, frame._replace(top_level=False) if frame.top_level else frame)


_OrderedVisitor = Callable[[_OrderedWalk, tree_sitter.Node, _Frame], bool]
_CLASS_IDS = frozenset(kind_ids(tree_sitter_python.language(), {"class_definition": True}))
_ORDERED_VISITOR_NAMES: dict[str, _OrderedVisitor] = {
    "class_definition": _OrderedWalk.definition,
    "function_definition": _OrderedWalk.definition,
    "decorated_definition": _OrderedWalk.decorated,
    "import_statement": _OrderedWalk.import_statement,
    "import_from_statement": _OrderedWalk.import_statement,
    "future_import_statement": _OrderedWalk.import_statement,
    "type_alias_statement": _OrderedWalk.type_alias,
    "if_statement": _OrderedWalk.enter,
    "try_statement": _OrderedWalk.enter,
    "with_statement": _OrderedWalk.enter,
    "for_statement": _OrderedWalk.loop,
    "while_statement": _OrderedWalk.loop,
    "match_statement": _OrderedWalk.loop,
    "block": _OrderedWalk.enter,
    **dict.fromkeys(_CLAUSES, _OrderedWalk.enter),
}
_ORDERED_VISITORS = kind_ids(tree_sitter_python.language(), _ORDERED_VISITOR_NAMES)
_ORDERED_TOP_LEVEL_VISITORS = kind_ids(
    tree_sitter_python.language(), {**_ORDERED_VISITOR_NAMES, "expression_statement": _OrderedWalk.expression}
)


def _at_top_level(assignment: tree_sitter.Node) -> bool:
    node = assignment.parent
    while node is not None:
        if node.type not in _TOP_LEVEL_PATH:
            return False
        node = node.parent
    return True


# --- from nodes to the outline model ----------------------------------------------------------


def _named(source: Source, kind: SymbolKind, node: tree_sitter.Node) -> Definition:
    name_node = node.child_by_field_id(_NAME)
    name = "" if name_node is None else source.text(name_node)
    return source.definition(kind, name, node, python_visibility(name))


def _type_alias(source: Source, node: tree_sitter.Node) -> Definition:
    name = _type_alias_name(source, node)
    return source.definition(SymbolKind.TYPE_ALIAS, name, node, python_visibility(name))


def _type_alias_name(source: Source, node: tree_sitter.Node) -> str:
    """``type Name[T] = ...``: the name is the first identifier of the left side."""
    left = node.child_by_field_id(_LEFT)
    while left is not None and left.type != "identifier":
        left = first_named(left)
    return "" if left is None else source.text(left)


def _variables(source: Source, assignment: tree_sitter.Node) -> Iterator[Definition]:
    """One definition per plain name bound by a (possibly chained) assignment."""
    for name in _variable_names(source, assignment):
        yield source.definition(variable_kind(name), name, assignment, python_visibility(name))


def _variable_names(source: Source, assignment: tree_sitter.Node) -> Iterator[str]:
    """Each plain name bound by a (possibly chained) assignment."""
    node: tree_sitter.Node | None = assignment
    while node is not None and node.type == "assignment":
        left = node.child_by_field_id(_LEFT)
        annotated = node.child_by_field_id(_TYPE) is not None
        for target in _target_names(left, annotated):
            yield source.text(target)
        node = node.child_by_field_id(_RIGHT)


def _target_names(target: tree_sitter.Node | None, annotated: bool) -> list[tree_sitter.Node]:
    """Plain names of a target; an annotated target counts only when it is a bare name."""
    if target is None:
        return []
    if target.type == "identifier":
        return [target]
    if target.type in _TUPLE_TARGETS and not annotated:
        return [item for item in target.named_children if item.type == "identifier"]
    return []


def _imports(source: Source, node: tree_sitter.Node) -> Iterator[Import]:
    line = source.line(node)
    if node.type == "import_statement":
        for item in _named_field(node, _NAME):
            module, alias = _aliased(source, item)
            yield Import(module, None, alias, python_origin(module), line)
        return
    if node.type == "future_import_statement":
        module = "__future__"
    else:
        module = _module_name(source, node.child_by_field_id(_MODULE_NAME))
    names = _named_field(node, _NAME)
    if not names and any(child.type == "wildcard_import" for child in node.children):
        yield Import(module, "*", None, python_origin(module), line)
    for item in names:
        name, alias = _aliased(source, item)
        yield Import(module, name, alias, python_origin(module), line)


def _named_field(node: tree_sitter.Node, field_id: int) -> list[tree_sitter.Node]:
    """A field's named nodes (a comma-separated field also holds its commas)."""
    return [child for child in node.children_by_field_id(field_id) if child.is_named]


def _aliased(source: Source, node: tree_sitter.Node) -> tuple[str, str | None]:
    """(dotted name, alias) of ``a.b`` or ``a.b as c``."""
    if node.type != "aliased_import":
        return _dotted(source, node), None
    name = node.child_by_field_id(_NAME)
    alias = node.child_by_field_id(_ALIAS)
    return (
        "" if name is None else _dotted(source, name),
        None if alias is None else source.text(alias),
    )


def _dotted(source: Source, node: tree_sitter.Node) -> str:
    """``a . b`` is legal Python: join the identifiers rather than copy the text."""
    if node.type != "dotted_name":
        return source.text(node)
    return ".".join(source.text(part) for part in node.named_children)


def _module_name(source: Source, node: tree_sitter.Node | None) -> str:
    """The module of ``from <module> import``; a relative one keeps its dots (``..pkg``)."""
    if node is None:
        return ""
    if node.type != "relative_import":
        return _dotted(source, node)
    dots = 0
    name = ""
    for part in node.named_children:
        if part.type == "import_prefix":
            dots = source.text(part).count(".")
        else:
            name = _dotted(source, part)
    return "." * dots + name
