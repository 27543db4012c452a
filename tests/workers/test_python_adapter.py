"""Golden outlines of the Python adapter, its ast fallback and its reference parser."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import tree_sitter

from parsefleet.contract.errors import TooManySymbols
from parsefleet.contract.outline import FileStatus, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.python import FALLBACK_MAX_BYTES, PythonAdapter, find_by_walk
from parsefleet.workers.languages.python_reference import reference_outline
from parsefleet.workers.limits import ParseBudget
from tests.workers.outline_rows import imports, outline_of, rows

K, V, Origin = SymbolKind, Visibility, ImportOrigin
FIXTURES = Path(__file__).parents[1] / "fixtures" / "python"
CLEAN_FIXTURES = ["inventory.py"]


def outline(source: bytes) -> Outline:
    return outline_of("python", source)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


INVENTORY_SYMBOLS = [
    (K.VARIABLE, "StockMap", 21, None, V.PUBLIC),
    (K.CONSTANT, "JSON_FALLBACK", 28, None, V.PUBLIC),
    (K.CONSTANT, "LOGGER", 30, None, V.PUBLIC),
    (K.CONSTANT, "DEFAULT_TTL_S", 31, None, V.PUBLIC),
    (K.VARIABLE, "cache_hits", 32, None, V.PUBLIC),
    (K.VARIABLE, "cache_misses", 32, None, V.PUBLIC),
    (K.VARIABLE, "_lock_path", 33, None, V.PRIVATE),
    (K.VARIABLE, "_lock_mode", 33, None, V.PRIVATE),
    (K.VARIABLE, "registry", 34, None, V.PUBLIC),
    (K.VARIABLE, "__all__", 35, None, V.PUBLIC),
    (K.CLASS, "Item", 39, None, V.PUBLIC),
    (K.METHOD, "Item.in_stock", 45, "Item", V.PUBLIC),
    (K.CLASS, "Warehouse", 49, None, V.PUBLIC),
    (K.CLASS, "Warehouse.Shelf", 54, "Warehouse", V.PUBLIC),
    (K.METHOD, "Warehouse.Shelf.__init__", 55, "Warehouse.Shelf", V.PUBLIC),
    (K.METHOD, "Warehouse.Shelf.__len__", 59, "Warehouse.Shelf", V.PUBLIC),
    (K.METHOD, "Warehouse.__init__", 62, "Warehouse", V.PUBLIC),
    (K.METHOD, "Warehouse._key", 67, "Warehouse", V.PRIVATE),
    (K.METHOD, "Warehouse.from_settings", 71, "Warehouse", V.PUBLIC),
    (K.METHOD, "Warehouse.refresh", 74, "Warehouse", V.PUBLIC),
    (K.FUNCTION, "Warehouse.refresh.parse", 75, "Warehouse.refresh", V.PUBLIC),
    (K.METHOD, "Warehouse.items", 81, "Warehouse", V.PUBLIC),
    (K.CLASS, "Inventory", 86, None, V.PUBLIC),
    (K.METHOD, "Inventory.lookup", 87, "Inventory", V.PUBLIC),
    (K.METHOD, "Inventory._cached", 95, "Inventory", V.PRIVATE),
    (K.FUNCTION, "Inventory._cached.load", 99, "Inventory._cached", V.PUBLIC),
    (K.FUNCTION, "restock", 106, None, V.PUBLIC),
]

INVENTORY_IMPORTS = [
    ("__future__", "annotations", None, Origin.STDLIB, 3),
    ("asyncio", None, None, Origin.STDLIB, 5),
    ("logging", None, None, Origin.STDLIB, 6),
    ("os.path", None, "osp", Origin.STDLIB, 7),
    ("collections", "OrderedDict", None, Origin.STDLIB, 8),
    ("collections", "defaultdict", None, Origin.STDLIB, 8),
    ("dataclasses", "dataclass", None, Origin.STDLIB, 9),
    ("dataclasses", "field", None, Origin.STDLIB, 9),
    ("typing", "TYPE_CHECKING", None, Origin.STDLIB, 10),
    ("typing", "ClassVar", None, Origin.STDLIB, 10),
    ("attr", None, None, Origin.THIRD_PARTY, 12),
    ("requests.adapters", "HTTPAdapter", "Adapter", Origin.THIRD_PARTY, 13),
    (".", "settings", None, Origin.LOCAL, 15),
    ("..common.errors", "NotFound", None, Origin.LOCAL, 16),
    ("..common.errors", "StoreError", "_StoreError", Origin.LOCAL, 16),
    ("collections.abc", "Iterator", None, Origin.STDLIB, 19),
    ("ujson", None, "json", Origin.THIRD_PARTY, 24),
    ("json", None, None, Origin.STDLIB, 26),
    ("functools", None, None, Origin.STDLIB, 96),
]


def test_inventory_symbols() -> None:
    result = outline(fixture("inventory.py"))
    assert (result.language, result.status, result.error_count) == ("python", FileStatus.PARSED, 0)
    assert rows(result) == INVENTORY_SYMBOLS


def test_inventory_imports_anywhere_with_origin() -> None:
    assert imports(outline(fixture("inventory.py"))) == INVENTORY_IMPORTS


def test_decorated_definition_spans_the_def_statement() -> None:
    source = fixture("inventory.py")
    restock = next(s for s in outline(source).symbols if s.name == "restock")
    assert source[restock.start_byte :].startswith(b"def restock(")
    assert (restock.start_line, restock.end_line) == (106, 109)


def test_syntax_error_ast_rejects_gives_partial_outline() -> None:
    result = outline(fixture("broken.py"))
    assert (result.status, result.error_count) == (FileStatus.PARTIAL, 1)
    assert rows(result) == [
        (K.CONSTANT, "HEADER", 6, None, V.PUBLIC),
        (K.CLASS, "Report", 9, None, V.PUBLIC),
        (K.METHOD, "Report.__init__", 10, "Report", V.PUBLIC),
        (K.METHOD, "Report.rows", 13, "Report", V.PUBLIC),
        (K.FUNCTION, "write_report", 18, None, V.PUBLIC),
        (K.FUNCTION, "summary", 24, None, V.PUBLIC),
    ]
    assert imports(result) == [
        ("csv", None, None, Origin.STDLIB, 3),
        ("pathlib", "Path", None, Origin.STDLIB, 4),
        ("statistics", "fsum", None, Origin.STDLIB, 25),
    ]


def test_tree_sitter_failure_that_cpython_accepts_falls_back_on_ast() -> None:
    source = fixture("classic_mac.py")  # lone CR line endings: tree-sitter-python reports errors
    assert b"\n" not in source
    result = outline(source)
    assert (result.status, result.error_count) == (FileStatus.FALLBACK, 0)
    assert rows(result) == [
        (K.CONSTANT, "VERSION", 5, None, V.PUBLIC),
        (K.CLASS, "Resource", 8, None, V.PUBLIC),
        (K.METHOD, "Resource.open", 9, "Resource", V.PUBLIC),
        (K.FUNCTION, "main", 13, None, V.PUBLIC),
    ]
    assert imports(result) == [("os", None, None, Origin.STDLIB, 3)]


def test_no_fallback_for_files_too_large_for_ast() -> None:
    source = fixture("classic_mac.py")
    padding = b"#" * (FALLBACK_MAX_BYTES - len(source) + 1)
    result = outline(source + padding)
    assert result.status is FileStatus.PARTIAL
    assert outline(source + padding[:-1]).status is FileStatus.FALLBACK


def test_reference_ignores_compile_warnings_even_when_they_are_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reference = reference_outline(b'PATTERN = "\\d+"\nflag = 1 if 1else 2\n')
    assert reference is not None
    assert [s.name for s in reference.symbols] == ["PATTERN", "flag"]


def test_fallback_maps_pep263_columns_to_file_bytes() -> None:
    source = fixture("latin1.py")
    result = outline(source)
    assert result.status is FileStatus.FALLBACK
    assert rows(result) == [
        (K.CONSTANT, "CURRENCY", 4, None, V.PUBLIC),
        (K.CONSTANT, "SYMBOL", 4, None, V.PUBLIC),
        (K.FUNCTION, "café", 7, None, V.PUBLIC),
    ]
    currency, symbol, function = result.symbols
    assert source[symbol.start_byte : symbol.end_byte] == 'SYMBOL = "£"'.encode("latin-1")
    assert source[currency.start_byte : currency.end_byte].endswith(b'"GBP")')
    assert source[function.start_byte :].startswith("def café(".encode("latin-1"))


@pytest.mark.parametrize("name", CLEAN_FIXTURES)
def test_tree_sitter_outline_matches_cpython_reference(name: str) -> None:
    source = fixture(name)
    ours, reference = outline(source), reference_outline(source)
    assert reference is not None
    assert rows(ours) == rows(reference)
    assert [s.start_byte for s in ours.symbols] == [s.start_byte for s in reference.symbols]
    assert ours.imports == reference.imports


SCOPES = b"""\
import os

if os.name == "nt":
    SEP = "\\\\"
    def native(): pass
elif os.name == "posix":
    SEP = "/"
else:
    with open(os.devnull) as _null:
        NULL_OK = True
try:
    FAST: bool = __import__("ujson") is not None
except ImportError:
    FAST = False
finally:
    DONE = 1
for _i in range(2):
    LOOPED = _i
while False:
    NEVER = 1
match os.name:
    case "posix":
        def in_case(): pass
class Config:
    attribute = 1
    if os.name:
        def method(self): pass
def outer():
    local = 1
    class Local:
        def method(self):
            def innermost(): pass
    async def helper():
        import json
    return local
a.b = c[0] = 1
x += 1
(first, [second, third]), fourth = (1, [2, 3]), 4
*head, tail = [1, 2]
from os.path import *
"""


TYPE_ALIASES = (
    b"type Vector = list[float]\nclass Box:\n    type Pair[T] = tuple[T, T]\ndef f(x):\n    type(x).seen = True\n"
)


def test_scopes_nesting_and_module_level_rules() -> None:
    result = outline(SCOPES)
    assert result.status is FileStatus.PARSED
    assert [(kind, name, line, parent) for kind, name, line, parent, _ in rows(result)] == [
        (K.CONSTANT, "SEP", 4, None),
        (K.FUNCTION, "native", 5, None),
        (K.CONSTANT, "SEP", 7, None),
        (K.CONSTANT, "NULL_OK", 10, None),
        (K.CONSTANT, "FAST", 12, None),
        (K.CONSTANT, "FAST", 14, None),
        (K.CONSTANT, "DONE", 16, None),
        (K.FUNCTION, "in_case", 23, None),
        (K.CLASS, "Config", 24, None),
        (K.METHOD, "Config.method", 27, "Config"),
        (K.FUNCTION, "outer", 28, None),
        (K.CLASS, "outer.Local", 30, "outer"),
        (K.METHOD, "outer.Local.method", 31, "outer.Local"),
        (K.FUNCTION, "outer.Local.method.innermost", 32, "outer.Local.method"),
        (K.FUNCTION, "outer.helper", 33, "outer"),
        (K.VARIABLE, "fourth", 38, None),
        (K.VARIABLE, "tail", 39, None),
    ]
    assert imports(result) == [
        ("os", None, None, Origin.STDLIB, 1),
        ("json", None, None, Origin.STDLIB, 34),
        ("os.path", "*", None, Origin.STDLIB, 40),
    ]
    reference = reference_outline(SCOPES)
    assert reference is not None
    assert rows(reference) == rows(result)


@pytest.mark.parametrize(
    "source", [fixture("inventory.py"), SCOPES, TYPE_ALIASES], ids=["inventory", "scopes", "aliases"]
)
def test_query_on_damaged_trees_finds_what_the_walk_finds(source: bytes) -> None:
    adapter = adapter_for("python")
    assert isinstance(adapter, PythonAdapter)
    root = adapter.parse(source, ParseBudget(timeout_s=10)).root_node

    def spans(found: dict[str, list[tree_sitter.Node]]) -> dict[str, list[tuple[int, int]]]:
        return {key: sorted((n.start_byte, n.end_byte) for n in nodes) for key, nodes in found.items() if nodes}

    by_walk = spans(find_by_walk(root, source))
    assert {"function", "import"} <= set(by_walk) or "type_alias" in by_walk
    assert spans(adapter.find_by_query(root)) == by_walk


def test_visibility_of_underscored_names() -> None:
    source = b"def public(): pass\ndef _private(): pass\ndef __mangled(): pass\ndef __dunder__(): pass\n"
    assert [(s.name, s.visibility) for s in outline(source).symbols] == [
        ("public", V.PUBLIC),
        ("_private", V.PRIVATE),
        ("__mangled", V.PRIVATE),
        ("__dunder__", V.PUBLIC),
    ]


def test_type_alias_statements() -> None:
    result = outline(TYPE_ALIASES)
    assert result.status is FileStatus.PARSED
    assert [(kind, name, parent) for kind, name, _, parent, _ in rows(result)] == [
        (K.TYPE_ALIAS, "Vector", None),
        (K.CLASS, "Box", None),
        (K.TYPE_ALIAS, "Box.Pair", "Box"),
        (K.FUNCTION, "f", None),
    ]


def test_bom_before_a_first_line_definition() -> None:
    source = b"\xef\xbb\xbfdef first(): pass\n"
    reference = reference_outline(source)
    assert reference is not None
    assert [s.start_byte for s in reference.symbols] == [s.start_byte for s in outline(source).symbols] == [3]


def test_bom_and_crlf_keep_lines_and_bytes() -> None:
    source = b"\xef\xbb\xbfimport os\r\n\r\nclass A:\r\n    def m(self):\r\n        pass\r\n"
    result = outline(source)
    assert result.status is FileStatus.PARSED
    assert rows(result) == [(K.CLASS, "A", 3, None, V.PUBLIC), (K.METHOD, "A.m", 4, "A", V.PUBLIC)]
    assert source[result.symbols[1].start_byte :].startswith(b"def m(")
    reference = reference_outline(source)
    assert reference is not None
    assert [s.start_byte for s in reference.symbols] == [s.start_byte for s in result.symbols]


@pytest.mark.parametrize(
    "source",
    [
        b"def caf\xe9():\n    pass\n",  # invalid UTF-8 and no PEP 263 cookie
        b"x = 1\x00\ndef f(): pass\n",  # a null byte: ast raises ValueError
        b'x = """\n',
    ],
)
def test_sources_both_parsers_reject_give_partial_outlines(source: bytes) -> None:
    result = outline(source)
    assert result.status is FileStatus.PARTIAL
    assert result.error_count == 1
    assert reference_outline(source) is None


@pytest.mark.parametrize(
    "source",
    [
        b"x = " + b"(" * 300 + b")" * 300 + b"\n",  # too many nested parentheses for CPython
        b"def f():\n" + b"".join(b"    " * depth + b"if x:\n" for depth in range(1, 120)) + b"    " * 120 + b"pass\n",
        b"# coding: no-such-codec\nx = 1\n",
        b"\xef\xbb\xbf# coding: latin-1\nx = 1\n",  # a BOM contradicting the cookie
    ],
)
def test_tree_sitter_outline_stands_when_only_cpython_rejects(source: bytes) -> None:
    assert reference_outline(source) is None
    result = outline(source)
    assert (result.status, result.error_count) == (FileStatus.PARSED, 0)
    assert [symbol.name for symbol in result.symbols] in (["x"], ["f"])


@pytest.mark.parametrize(
    "source",
    [fixture("inventory.py"), SCOPES, TYPE_ALIASES],
    ids=["inventory", "scopes", "aliases"],
)
def test_the_ordered_walk_builds_the_outline_of_the_walks_captures(source: bytes) -> None:
    adapter = adapter_for("python")
    assert isinstance(adapter, PythonAdapter)
    tree = adapter.parse(source, ParseBudget(timeout_s=10))
    assert not tree.root_node.has_error
    ordered = adapter.tree_outline(tree, source)
    assert ordered.symbols
    assert ordered == adapter.outline_of_captures(find_by_walk(tree.root_node, source), source)


@pytest.mark.parametrize(("cap", "counted"), [(5, 10), (15, 20)])
def test_the_symbols_cap_counts_classes_and_functions_first_then_every_definition(cap: int, counted: int) -> None:
    source = "".join(f"def f{i}(): pass\nV{i} = {i}\n" for i in range(10)).encode()
    assert len(outline(source).symbols) == 20
    with pytest.raises(TooManySymbols, match=f"^{counted} definitions, more than {cap} "):
        adapter_for("python").outline(source, ParseBudget(10, symbols_max=cap))
