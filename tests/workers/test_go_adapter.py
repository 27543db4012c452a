"""Golden outlines of the Go adapter."""

from __future__ import annotations

from pathlib import Path

from parsefleet.contract.outline import FileStatus, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.go import GoAdapter
from parsefleet.workers.limits import ParseBudget
from tests.workers.outline_rows import imports, outline_of, rows

K, V, Origin = SymbolKind, Visibility, ImportOrigin
FIXTURES = Path(__file__).parents[1] / "fixtures" / "go"
PARITY_SAMPLES = Path(__file__).parent / "parity_samples"


def outline(source: bytes) -> Outline:
    return outline_of("go", source)


SERVER_SYMBOLS = [
    (K.MODULE, "catalog", 2, None, V.PUBLIC),
    (K.CONSTANT, "MaxItems", 19, None, V.PUBLIC),
    (K.CONSTANT, "maxBatch", 20, None, V.PRIVATE),
    (K.CONSTANT, "DefaultPort", 21, None, V.PUBLIC),
    (K.CONSTANT, "defaultHost", 21, None, V.PRIVATE),
    (K.CONSTANT, "Version", 24, None, V.PUBLIC),
    (K.VARIABLE, "ErrNotFound", 27, None, V.PUBLIC),
    (K.VARIABLE, "requests", 28, None, V.PRIVATE),
    (K.STRUCT, "Product", 34, None, V.PUBLIC),
    (K.FIELD, "Product.ID", 35, "Product", V.PUBLIC),
    (K.FIELD, "Product.SKU", 35, "Product", V.PUBLIC),
    (K.FIELD, "Product.Price", 36, "Product", V.PUBLIC),
    (K.FIELD, "Product.tags", 37, "Product", V.PRIVATE),
    (K.FIELD, "Product.Metadata", 38, "Product", V.PUBLIC),
    (K.FIELD, "Product.Marshaler", 39, "Product", V.PUBLIC),
    (K.STRUCT, "Metadata", 42, None, V.PUBLIC),
    (K.FIELD, "Metadata.Source", 43, "Metadata", V.PUBLIC),
    (K.INTERFACE, "Store", 47, None, V.PUBLIC),
    (K.METHOD, "Store.Get", 48, "Store", V.PUBLIC),
    (K.METHOD, "Store.List", 49, "Store", V.PUBLIC),
    (K.INTERFACE, "Closer", 53, None, V.PUBLIC),
    (K.METHOD, "Closer.Close", 53, "Closer", V.PUBLIC),
    (K.TYPE_ALIAS, "ProductID", 56, None, V.PUBLIC),
    (K.TYPE_ALIAS, "Cents", 57, None, V.PUBLIC),
    (K.STRUCT, "Cache", 61, None, V.PUBLIC),
    (K.FIELD, "Cache.mu", 62, "Cache", V.PRIVATE),
    (K.FIELD, "Cache.items", 63, "Cache", V.PRIVATE),
    (K.STRUCT, "Server", 66, None, V.PUBLIC),
    (K.FIELD, "Server.store", 67, "Server", V.PRIVATE),
    (K.FIELD, "Server.group", 68, "Server", V.PRIVATE),
    (K.FUNCTION, "NewError", 71, None, V.PUBLIC),
    (K.STRUCT, "catalogError", 73, None, V.PRIVATE),
    (K.FIELD, "catalogError.msg", 73, "catalogError", V.PRIVATE),
    (K.METHOD, "(*catalogError).Error", 75, None, V.PUBLIC),
    (K.METHOD, "(*Cache).Get", 77, None, V.PUBLIC),
    (K.METHOD, "Cache.Len", 84, None, V.PUBLIC),
    (K.METHOD, "(*Server).ServeHTTP", 86, None, V.PUBLIC),
    (K.METHOD, "Cents.String", 97, None, V.PUBLIC),
    (K.FUNCTION, "listen", 99, None, V.PRIVATE),
]

SERVER_IMPORTS = [
    ("context", None, None, Origin.STDLIB, 5),
    ("encoding/json", None, None, Origin.STDLIB, 6),
    ("net/http", None, None, Origin.STDLIB, 7),
    ("net/http/pprof", None, "_", Origin.STDLIB, 8),
    ("strings", None, ".", Origin.STDLIB, 9),
    ("github.com/sirupsen/logrus", None, "log", Origin.THIRD_PARTY, 11),
    ("golang.org/x/sync/singleflight", None, None, Origin.THIRD_PARTY, 12),
    ("sync", None, None, Origin.STDLIB, 15),
]


def test_server_symbols() -> None:
    result = outline((FIXTURES / "server.go").read_bytes())
    assert (result.language, result.status, result.error_count) == ("go", FileStatus.PARSED, 0)
    assert rows(result) == SERVER_SYMBOLS


def test_server_imports() -> None:
    assert imports(outline((FIXTURES / "server.go").read_bytes())) == SERVER_IMPORTS


def test_local_declarations_are_not_outlined() -> None:
    names = [s.name for s in outline((FIXTURES / "server.go").read_bytes()).symbols]
    assert "envelope" not in names  # a type declared inside ServeHTTP
    assert "_" not in names  # var _ http.Handler = ...


def test_syntax_error_gives_partial_outline() -> None:
    result = outline((FIXTURES / "broken.go").read_bytes())
    assert (result.status, result.error_count) == (FileStatus.PARTIAL, 1)
    assert rows(result) == [
        (K.MODULE, "queue", 2, None, V.PUBLIC),
        (K.VARIABLE, "ErrFull", 6, None, V.PUBLIC),
        (K.STRUCT, "Queue", 8, None, V.PUBLIC),
        (K.FIELD, "Queue.items", 9, "Queue", V.PRIVATE),
        (K.FIELD, "Queue.limit", 10, "Queue", V.PRIVATE),
        (K.METHOD, "(*Queue).Push", 13, None, V.PUBLIC),
        (K.METHOD, "(*Queue).Len", 21, None, V.PUBLIC),
        (K.FUNCTION, "New", 25, None, V.PUBLIC),
    ]
    assert imports(result) == [("errors", None, None, Origin.STDLIB, 4)]


def test_receiver_forms() -> None:
    source = b"""package p

func (T) Value() {}
func (t *T) Pointer() {}
func (t *Map[K, V]) Generic() {}
func (m Map[K, V]) GenericValue() {}
func (t (T)) Parenthesized() {}
func (t *(T)) PointerParenthesized() {}
"""
    assert [s.qualified_name for s in outline(source).symbols] == [
        "p",
        "T.Value",
        "(*T).Pointer",
        "(*Map).Generic",
        "Map.GenericValue",
        "T.Parenthesized",
        "(*T).PointerParenthesized",
    ]


def test_type_specs_and_visibility() -> None:
    source = """package p

type (
	Alias = map[string]int
	defined []byte
	Ärger struct{ Ö int }
	Gen[T any] interface{ ~int | ~string; Do(T) }
)
""".encode()
    assert rows(outline(source)) == [
        (K.MODULE, "p", 1, None, V.PUBLIC),
        (K.TYPE_ALIAS, "Alias", 4, None, V.PUBLIC),
        (K.TYPE_ALIAS, "defined", 5, None, V.PRIVATE),
        (K.STRUCT, "Ärger", 6, None, V.PUBLIC),
        (K.FIELD, "Ärger.Ö", 6, "Ärger", V.PUBLIC),
        (K.INTERFACE, "Gen", 7, None, V.PUBLIC),
        (K.METHOD, "Gen.Do", 7, "Gen", V.PUBLIC),
    ]


def test_import_origins_and_invalid_utf8() -> None:
    source = b'package p\n\nimport (\n\t"C"\n\tu "./util"\n\t"example.com/m/v2"\n\traw `os/exec`\n\t"caf\xe9"\n)\n'
    assert imports(outline(source)) == [
        ("C", None, None, Origin.STDLIB, 4),
        ("./util", None, "u", Origin.LOCAL, 5),
        ("example.com/m/v2", None, None, Origin.THIRD_PARTY, 6),
        ("os/exec", None, "raw", Origin.STDLIB, 7),
        ("caf\ufffd", None, None, Origin.STDLIB, 8),
    ]


def test_bom_and_crlf() -> None:
    source = b"\xef\xbb\xbfpackage p\r\n\r\n// F does nothing.\r\nfunc F() {}\r\n"
    result = outline(source)
    assert result.status is FileStatus.PARSED
    assert rows(result) == [(K.MODULE, "p", 1, None, V.PUBLIC), (K.FUNCTION, "F", 4, None, V.PUBLIC)]
    assert source[result.symbols[1].start_byte : result.symbols[1].end_byte] == b"func F() {}"


def test_declarations_inside_top_level_error_nodes_are_recovered() -> None:
    result = outline(b'package p\n\nimport (\n\t"fmt"\n\nfunc g() { fmt.Println() }\n')
    assert (result.status, result.error_count) == (FileStatus.PARTIAL, 1)
    assert rows(result) == [(K.MODULE, "p", 1, None, V.PUBLIC), (K.FUNCTION, "g", 6, None, V.PRIVATE)]
    assert imports(result) == [("fmt", None, None, Origin.STDLIB, 4)]


EVERY_FORM = b"""package p

import "fmt"
import (
	// a comment between specs
	f "fmt"
	_ "embed"
)

const A, _, b = 1, 2, 3
const (
	C = iota
	d
)
var x, y int
var (
	Z = 1
	_ = 2
)

type (
	S[T any] struct {
		A, b int
		*io.Reader
		Inner struct{ Hidden int }
		pkg.T[int]
	}
	I interface {
		M(int) error
		~int
	}
	N = S[int]
	D []byte
)

func F() { type Local struct{ x int } }
func (s *S[T]) M() {}
func (/* c */ s S[T]) V() {}
func ([]int) Bad() {}
"""


def test_the_walk_finds_what_the_query_finds_on_clean_trees() -> None:
    adapter = adapter_for("go")
    assert isinstance(adapter, GoAdapter)
    sources = [EVERY_FORM, (FIXTURES / "server.go").read_bytes(), (PARITY_SAMPLES / "edges.go").read_bytes()]
    for source in sources:
        tree = adapter.parse(source, ParseBudget(10))
        assert not tree.root_node.has_error
        walked = adapter.extract(tree, source)
        assert walked == adapter.query_outline(tree.root_node, source)
        assert walked.symbols and walked.imports
