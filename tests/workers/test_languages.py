"""What every language adapter guarantees, checked on every fixture; and the shared tree helpers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from parsefleet.contract.errors import ParseCancelled, ParseFailure, ParseTimeout, TooManySymbols
from parsefleet.contract.outline import FileStatus, Outline, SymbolKind, Visibility
from parsefleet.workers.languages import adapter_for, load_adapters
from parsefleet.workers.languages.tree import (
    SYMBOLS_RSS_CHECK_EVERY,
    Definition,
    OrderedSymbols,
    Source,
    build_symbols,
    count_errors,
)
from parsefleet.workers.limits import UNWATCHED_PARSE_MAX_BYTES, ParseBudget

FIXTURES = Path(__file__).parents[1] / "fixtures"
LANGUAGE_OF = {".py": "python", ".go": "go", ".rs": "rust"}
EXPECTED_STATUS = {
    "python/inventory.py": FileStatus.PARSED,
    "python/broken.py": FileStatus.PARTIAL,
    "python/classic_mac.py": FileStatus.FALLBACK,
    "python/latin1.py": FileStatus.FALLBACK,
    "go/server.go": FileStatus.PARSED,
    "go/broken.go": FileStatus.PARTIAL,
    "rust/store.rs": FileStatus.PARSED,
    "rust/broken.rs": FileStatus.PARTIAL,
}
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def fixture_outline(relative: str) -> tuple[bytes, Outline]:
    path = FIXTURES / relative
    source = path.read_bytes()
    return source, adapter_for(LANGUAGE_OF[path.suffix]).outline(source, ParseBudget(timeout_s=10))


def test_every_fixture_has_an_expected_status() -> None:
    on_disk = {str(path.relative_to(FIXTURES)) for path in FIXTURES.glob("*/*") if path.suffix in LANGUAGE_OF}
    assert on_disk == set(EXPECTED_STATUS)


@pytest.mark.parametrize(("relative", "status"), sorted(EXPECTED_STATUS.items()))
def test_fixture_status(relative: str, status: FileStatus) -> None:
    _, result = fixture_outline(relative)
    assert result.status is status
    assert (result.error_count > 0) is (status is FileStatus.PARTIAL)
    assert result.language == LANGUAGE_OF[Path(relative).suffix]


@pytest.mark.parametrize("relative", sorted(EXPECTED_STATUS))
def test_symbols_are_ordered_nested_and_located(relative: str) -> None:
    source, result = fixture_outline(relative)
    assert result.symbols
    starts = [symbol.start_byte for symbol in result.symbols]
    assert starts == sorted(starts)
    for index, symbol in enumerate(result.symbols):
        assert 0 <= symbol.start_byte < symbol.end_byte <= len(source)
        assert symbol.start_line == len(_LINE_BREAK.findall(source, 0, symbol.start_byte)) + 1
        assert symbol.start_line <= symbol.end_line
        assert symbol.qualified_name.endswith(symbol.name)
        if symbol.parent is not None:
            parent = result.symbols[symbol.parent]
            assert symbol.parent < index
            assert parent.start_byte <= symbol.start_byte < symbol.end_byte <= parent.end_byte
            assert parent.start_line <= symbol.start_line <= symbol.end_line <= parent.end_line


@pytest.mark.parametrize("relative", sorted(EXPECTED_STATUS))
def test_imports_are_ordered_by_line(relative: str) -> None:
    source, result = fixture_outline(relative)
    lines = [item.line for item in result.imports]
    assert lines == sorted(lines)
    assert all(1 <= line <= len(_LINE_BREAK.findall(source)) + 1 for line in lines)


def test_adapters_load_once_per_process() -> None:
    adapters = load_adapters()
    assert {name: adapter.language for name, adapter in adapters.items()} == {
        "python": "python",
        "go": "go",
        "rust": "rust",
    }
    assert adapter_for("rust") is adapters["rust"]
    assert load_adapters() is adapters


@pytest.mark.parametrize("language", ["python", "go", "rust"])
def test_an_expired_budget_cancels_the_parse(language: str) -> None:
    source = {"python": b"x = 1\n", "go": b"var x = 1\n", "rust": b"const X: u8 = 1;\n"}[language] * 200_000
    with pytest.raises(ParseTimeout):
        adapter_for(language).parse(source, ParseBudget(timeout_s=0))


@pytest.mark.parametrize("language", ["python", "go", "rust"])
def test_a_small_source_is_not_kept_after_its_outline(language: str) -> None:
    """py-tree-sitter 0.26.1 keeps every chunk a read callback returns; sources up to
    UNWATCHED_PARSE_MAX_BYTES take the bytes path, so a worker parsing them does not grow."""
    line = {"python": b"def f():\n    return 1\n", "go": b"func F() int { return 1 }\n", "rust": b"fn f() {}\n"}
    source = line[language] * (UNWATCHED_PARSE_MAX_BYTES // len(line[language]))
    references = sys.getrefcount(source)
    outline = adapter_for(language).outline(source, ParseBudget(timeout_s=10))
    assert outline.symbols
    assert sys.getrefcount(source) == references


def definition(
    kind: SymbolKind, name: str, start: int, end: int, *, qualifier: str | None = None, scope: str | None = None
) -> Definition:
    return Definition(kind, name, start, end, 1, 1, Visibility.PUBLIC, qualifier=qualifier, scope=scope)


def test_build_symbols_parents_by_containment() -> None:
    k = SymbolKind
    symbols = build_symbols(
        [  # any order in, start-byte order out
            definition(k.FUNCTION, "method", 20, 30),
            definition(k.CONSTANT, "LIMIT", 0, 5),
            definition(k.IMPL, "impl Point", 10, 50, scope="Point"),
            definition(k.FIELD, "a", 35, 40),
            definition(k.FIELD, "b", 35, 40),  # same span as a: a sibling, since fields contain nothing
            definition(k.FUNCTION, "inner", 22, 28),
            definition(k.FUNCTION, "after", 50, 60),
            definition(k.MODULE, "m", 60, 90),
            definition(k.IMPL, "impl T", 70, 80, scope="T"),
            definition(k.FUNCTION, "go_method", 80, 85, qualifier="(*T).go_method"),
        ],
        "::",
        containers=frozenset({k.IMPL, k.FUNCTION, k.METHOD, k.MODULE}),
        method_parents=frozenset({k.IMPL}),
    )
    assert [(s.kind, s.qualified_name, s.parent) for s in symbols] == [
        (k.CONSTANT, "LIMIT", None),
        (k.IMPL, "impl Point", None),
        (k.METHOD, "Point::method", 1),
        (k.FUNCTION, "Point::method::inner", 2),
        (k.FIELD, "Point::a", 1),
        (k.FIELD, "Point::b", 1),
        (k.FUNCTION, "after", None),
        (k.MODULE, "m", None),
        (k.IMPL, "m::impl T", 7),
        (k.FUNCTION, "m::(*T).go_method", 7),
    ]


@pytest.mark.parametrize(
    ("language", "source", "errors"),
    [
        ("go", b"package p\nfunc f() {\n", 1),  # a MISSING "}"
        ("rust", b"fn f( {}\nstruct S { a: }\n", 2),
        ("python", b"def f(:\n    pass\nclass C(\n", 2),
        ("python", b"x = 1\n", 0),
    ],
)
def test_count_errors_counts_error_and_missing_nodes(language: str, source: bytes, errors: int) -> None:
    tree = adapter_for(language).parse(source, ParseBudget(timeout_s=10))
    assert count_errors(tree.root_node) == errors


def test_source_spans_end_on_the_last_line_with_text() -> None:
    source = b"\n\nx = 1\n"
    root = adapter_for("python").parse(source, ParseBudget(timeout_s=10)).root_node
    assert (root.start_point, root.end_point) == ((2, 0), (3, 0))  # ends after the final newline
    module = Source(source).definition(SymbolKind.MODULE, "m", root, Visibility.PUBLIC)
    assert (module.start_line, module.end_line, module.start_byte, module.end_byte) == (3, 3, 2, 8)
    shifted = Source(source, byte_offset=100, row_offset=10, from_macro=True)
    moved = shifted.definition(SymbolKind.MODULE, "m", root, Visibility.PUBLIC)
    assert (moved.start_line, moved.end_line, moved.start_byte, moved.from_macro) == (13, 13, 102, True)


_MANY = {
    "python": lambda n: "".join(f"def f{i}(): pass\n" for i in range(n)),
    "go": lambda n: "package p\n" + "".join(f"func F{i}() {{}}\n" for i in range(n)),
    "rust": lambda n: "".join(f"fn f{i}() {{}}\n" for i in range(n)),
}


@pytest.mark.parametrize("language", sorted(_MANY))
@pytest.mark.parametrize("broken", [False, True], ids=["clean", "with-errors"])
def test_a_file_of_more_symbols_than_the_cap_fails_as_too_many_symbols(language: str, broken: bool) -> None:
    source = (_MANY[language](1000) + ("\n)(\n" if broken else "")).encode()
    adapter = adapter_for(language)
    count = len(adapter.outline(source, ParseBudget(10)).symbols)
    assert count >= 1000
    assert len(adapter.outline(source, ParseBudget(10, symbols_max=count)).symbols) == count
    with pytest.raises(TooManySymbols, match=f"{count} definitions, more than {count - 1}") as caught:
        adapter.outline(source, ParseBudget(10, symbols_max=count - 1))
    assert caught.value.kind == "too-many-symbols"


def test_a_process_over_its_memory_budget_fails_the_file_between_steps() -> None:
    with pytest.raises(ParseCancelled, match="outline not started: parsed at"):
        adapter_for("python").outline(b"def f(): pass\n", ParseBudget(10, rss_limit_mb=1.0))


def test_ordered_symbols_stop_building_past_the_cap_and_check_memory_as_they_build() -> None:
    source = b"x = 1\n"
    node = adapter_for("python").parse(source, ParseBudget(10)).root_node

    def add(out: OrderedSymbols) -> int:
        return out.add(SymbolKind.VARIABLE, "x", node, Visibility.PUBLIC, qualified_name="x", parent=None)

    capped = OrderedSymbols.within(Source(source), ParseBudget(10, symbols_max=5))
    assert [add(capped) for _ in range(8)] == list(range(8))
    assert (capped.count, len(capped.symbols)) == (8, 5)  # counted on, for the refusal's message

    watched = OrderedSymbols.within(Source(source), ParseBudget(10, rss_limit_mb=1.0))
    for _ in range(SYMBOLS_RSS_CHECK_EVERY - 1):
        add(watched)
    assert (watched.breach, len(watched.symbols)) == (None, SYMBOLS_RSS_CHECK_EVERY - 1)
    add(watched)  # the check: over budget, what was built is dropped and the rest only counted
    assert (len(watched.symbols), watched.count) == (0, SYMBOLS_RSS_CHECK_EVERY)
    add(watched)
    assert (len(watched.symbols), watched.count) == (0, SYMBOLS_RSS_CHECK_EVERY + 1)
    with pytest.raises(ParseCancelled, match="outline not kept: definitions found at"):
        watched.settle()


def test_a_walk_over_its_memory_budget_is_refused_for_too_many_symbols_when_its_count_passes_the_cap() -> None:
    source = b"x = 1\n"
    node = adapter_for("python").parse(source, ParseBudget(10)).root_node
    met = SYMBOLS_RSS_CHECK_EVERY * 2
    for symbols_max, kind in ((met, "memory"), (met - 1, "too-many-symbols")):
        out = OrderedSymbols.within(Source(source), ParseBudget(10, rss_limit_mb=1.0, symbols_max=symbols_max))
        for _ in range(met):
            out.add(SymbolKind.VARIABLE, "x", node, Visibility.PUBLIC, qualified_name="x", parent=None)
        assert out.breach is not None and not out.symbols
        with pytest.raises(ParseFailure) as caught:
            out.settle()
        assert caught.value.kind == kind
