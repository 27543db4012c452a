"""Finding a clean Rust tree's items by walking them: what ``queries/rust.scm`` captures, cheaper.

The query, run scope by scope with a start depth of 1, still costs about 6% of the parse; walking
the item lists in Python (the file, inline module bodies, and the member lists of traits, impls,
extern blocks and structs) finds the same nodes for about 4%, because items are few and their
lists short (most of what the walk passes over are comments, one set lookup each). Trees with
syntax errors keep the query: it also looks into the ERROR nodes the parser's recovery leaves.
``tests/workers/test_rust_adapter.py`` checks that both find the same nodes.
"""

from __future__ import annotations

from collections.abc import Callable

import tree_sitter
import tree_sitter_rust

from parsefleet.workers.languages.tree import field_ids, kind_ids

__all__ = ["find_items"]

Captures = dict[str, list[tree_sitter.Node]]  # capture name (as in rust.scm) -> nodes

_GRAMMAR = tree_sitter_rust.language()
_BODY, _TRAIT = field_ids(_GRAMMAR, "body", "trait")
# item kind -> capture name, for the items of a scope (the file, an inline module's body); all
# these tables are keyed by Node.kind_id (see kind_ids), as the walk looks up every node it visits
_ITEMS = kind_ids(
    _GRAMMAR,
    {
        "mod_item": "module",
        "struct_item": "struct",
        "union_item": "union",
        "enum_item": "enum",
        "trait_item": "trait",
        "impl_item": "impl",
        "function_item": "function",
        "const_item": "constant",
        "static_item": "static",
        "type_item": "type_alias",
        "macro_definition": "macro_rules.export",
        "use_declaration": "use",
        "extern_crate_declaration": "extern_crate",
        "macro_invocation": "macro",
    },
)
# member type -> capture name, in the body of a trait, an inherent impl, a trait impl, an extern block
_TRAIT_MEMBERS = kind_ids(
    _GRAMMAR,
    {
        "function_item": "function.trait",
        "function_signature_item": "function.trait",
        "const_item": "constant.trait",
        "macro_invocation": "macro",
    },
)
_IMPL_MEMBERS = kind_ids(
    _GRAMMAR,
    {
        "function_item": "function",
        "const_item": "constant",
        "type_item": "type_alias",
        "macro_invocation": "macro",
    },
)
_TRAIT_IMPL_MEMBERS = kind_ids(
    _GRAMMAR,
    {
        "function_item": "function.public",
        "const_item": "constant.public",
        "type_item": "type_alias.public",
        "macro_invocation": "macro",
    },
)
_FOREIGN_MEMBERS = kind_ids(_GRAMMAR, {"function_signature_item": "function", "static_item": "static"})


def find_items(root: tree_sitter.Node) -> Captures:
    """The nodes rust.scm captures in an error-free tree, by capture name (no ``scope``)."""
    found: Captures = {}
    scopes = [root]
    while scopes:
        for node in scopes.pop().named_children:
            kind_id = node.kind_id
            if kind_id in _SCOPE_KINDS:  # most nodes are comments and attributes: one lookup
                capture = _ITEMS.get(kind_id)
                if capture is not None:
                    found.setdefault(capture, []).append(node)
                visit = _VISITORS.get(kind_id)
                if visit is not None:
                    visit(node, found, scopes)
    return found


def _members(node: tree_sitter.Node, captures: dict[int, str], found: Captures) -> None:
    """The members of a trait, impl or extern block body (a ``declaration_list``)."""
    body = node.child_by_field_id(_BODY)
    if body is not None and body.type == "declaration_list":
        for member in body.named_children:
            capture = captures.get(member.kind_id)
            if capture is not None:
                found.setdefault(capture, []).append(member)


def _module(node: tree_sitter.Node, _found: Captures, scopes: list[tree_sitter.Node]) -> None:
    body = node.child_by_field_id(_BODY)
    if body is not None and body.type == "declaration_list":
        scopes.append(body)


def _fields(node: tree_sitter.Node, found: Captures, _scopes: list[tree_sitter.Node]) -> None:
    body = node.child_by_field_id(_BODY)
    if body is not None and body.type == "field_declaration_list":
        for field in body.named_children:
            if field.type == "field_declaration":
                found.setdefault("field", []).append(field)


def _trait(node: tree_sitter.Node, found: Captures, _scopes: list[tree_sitter.Node]) -> None:
    _members(node, _TRAIT_MEMBERS, found)


def _impl(node: tree_sitter.Node, found: Captures, _scopes: list[tree_sitter.Node]) -> None:
    trait = node.child_by_field_id(_TRAIT)
    _members(node, _IMPL_MEMBERS if trait is None else _TRAIT_IMPL_MEMBERS, found)


def _macro_statement(node: tree_sitter.Node, found: Captures, _scopes: list[tree_sitter.Node]) -> None:
    """``m!(...);`` at item level is an expression statement."""
    call = node.named_child(0) if node.named_child_count else None
    if call is not None and call.type == "macro_invocation":
        found.setdefault("macro", []).append(call)


def _foreign(node: tree_sitter.Node, found: Captures, _scopes: list[tree_sitter.Node]) -> None:
    _members(node, _FOREIGN_MEMBERS, found)


_Visitor = Callable[[tree_sitter.Node, Captures, list[tree_sitter.Node]], None]
# what an item's members add (or its body, to visit next), by kind id
_VISITORS: dict[int, _Visitor] = kind_ids(
    _GRAMMAR,
    {
        "mod_item": _module,
        "struct_item": _fields,
        "union_item": _fields,
        "trait_item": _trait,
        "impl_item": _impl,
        "foreign_mod_item": _foreign,
        "expression_statement": _macro_statement,
    },
)
_SCOPE_KINDS = frozenset(_ITEMS) | frozenset(_VISITORS)
