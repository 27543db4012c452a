"""Golden outlines of the Rust adapter, macro bodies included."""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter

from parsefleet.contract.outline import FileStatus, ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages import adapter_for, rust
from parsefleet.workers.languages.rust import MAX_MACRO_DEPTH
from parsefleet.workers.languages.rust_walk import find_items
from parsefleet.workers.languages.tree import scope_captures
from parsefleet.workers.limits import ParseBudget
from tests.workers.outline_rows import imports, outline_of, rows

K, V, Origin = SymbolKind, Visibility, ImportOrigin
FIXTURES = Path(__file__).parents[1] / "fixtures" / "rust"


def outline(source: bytes) -> Outline:
    return outline_of("rust", source)


STORE_SYMBOLS = [
    (K.CONSTANT, "MAX_KEYS", 13, None, V.PUBLIC),
    (K.STATIC, "VERSION", 14, None, V.PRIVATE),
    (K.TYPE_ALIAS, "Shared", 15, None, V.CRATE),
    (K.MACRO, "items", 19, None, V.PUBLIC),
    (K.MACRO, "impl_display", 23, None, V.PRIVATE),
    (K.STRUCT, "Generated", 34, None, V.PUBLIC),
    (K.FUNCTION, "generated", 36, None, V.PUBLIC),
    (K.STATIC, "OPS", 42, None, V.PRIVATE),
    (K.STRUCT, "Record", 48, None, V.PUBLIC),
    (K.FIELD, "Record::key", 49, "Record", V.PUBLIC),
    (K.FIELD, "Record::value", 50, "Record", V.CRATE),
    (K.FIELD, "Record::version", 51, "Record", V.PRIVATE),
    (K.STRUCT, "Bytes", 54, None, V.PUBLIC),
    (K.ENUM, "Backend", 56, None, V.PUBLIC),
    (K.UNION, "Word", 62, None, V.PUBLIC),
    (K.FIELD, "Word::int", 63, "Word", V.PUBLIC),
    (K.FIELD, "Word::float", 64, "Word", V.PUBLIC),
    (K.TRAIT, "Storage", 67, None, V.PUBLIC),
    (K.CONSTANT, "Storage::NAME", 68, "Storage", V.PUBLIC),
    (K.METHOD, "Storage::get", 70, "Storage", V.PUBLIC),
    (K.METHOD, "Storage::contains", 72, "Storage", V.PUBLIC),
    (K.STRUCT, "MemoryStore", 77, None, V.PUBLIC),
    (K.FIELD, "MemoryStore::entries", 78, "MemoryStore", V.PRIVATE),
    (K.IMPL, "impl MemoryStore", 81, None, V.PUBLIC),
    (K.METHOD, "MemoryStore::new", 82, "impl MemoryStore", V.PUBLIC),
    (K.METHOD, "MemoryStore::entry", 86, "impl MemoryStore", V.RESTRICTED),
    (K.METHOD, "MemoryStore::iter", 90, "impl MemoryStore", V.PRIVATE),
    (K.IMPL, "impl Storage for MemoryStore", 95, None, V.PUBLIC),
    (K.CONSTANT, "MemoryStore::NAME", 96, "impl Storage for MemoryStore", V.PUBLIC),
    (K.METHOD, "MemoryStore::get", 98, "impl Storage for MemoryStore", V.PUBLIC),
    (K.IMPL, "impl fmt::Display for Record", 103, None, V.PUBLIC),
    (K.METHOD, "Record::fmt", 104, "impl fmt::Display for Record", V.PUBLIC),
    (K.MODULE, "metrics", 109, None, V.PUBLIC),
    (K.STATIC, "metrics::READS", 112, "metrics", V.PUBLIC),
    (K.FUNCTION, "metrics::record_read", 114, "metrics", V.PUBLIC),
    (K.MODULE, "metrics::export", 118, "metrics", V.RESTRICTED),
    (K.FUNCTION, "metrics::export::snapshot", 119, "metrics::export", V.PUBLIC),
    (K.FUNCTION, "store_flush", 126, None, V.PRIVATE),
    (K.FUNCTION, "open", 129, None, V.PUBLIC),
]

STORE_IMPORTS = [
    ("alloc", None, None, Origin.STDLIB, 3),
    ("serde", None, "serde_crate", Origin.THIRD_PARTY, 4),
    ("std::collections", "hash_map", None, Origin.STDLIB, 6),
    ("std::collections::hash_map", "Entry", None, Origin.STDLIB, 6),
    ("std::collections", "HashMap", None, Origin.STDLIB, 6),
    ("std", "fmt", None, Origin.STDLIB, 7),
    ("std::sync", "Arc", None, Origin.STDLIB, 8),
    ("std::sync", "Mutex", None, Origin.STDLIB, 8),
    ("serde", "Deserialize", None, Origin.THIRD_PARTY, 9),
    ("serde", "Serialize", "Ser", Origin.THIRD_PARTY, 9),
    ("crate::config", "*", None, Origin.LOCAL, 10),
    ("super::errors", "StoreError", None, Origin.LOCAL, 11),
    ("std::sync::atomic", "AtomicU64", None, Origin.STDLIB, 110),
    ("std::sync::atomic", "Ordering", None, Origin.STDLIB, 110),
]


def test_store_symbols() -> None:
    result = outline((FIXTURES / "store.rs").read_bytes())
    assert (result.language, result.status, result.error_count) == ("rust", FileStatus.PARSED, 0)
    assert rows(result) == STORE_SYMBOLS


def test_store_imports() -> None:
    assert imports(outline((FIXTURES / "store.rs").read_bytes())) == STORE_IMPORTS


def test_store_macro_bodies_expanded_and_counted() -> None:
    source = (FIXTURES / "store.rs").read_bytes()
    result = outline(source)
    assert result.unexpanded_macros == 1  # impl_display!(Bytes, "B");
    expanded = [s for s in result.symbols if s.from_macro]
    assert [s.qualified_name for s in expanded] == ["Generated", "generated", "OPS"]
    generated = expanded[1]
    assert source[generated.start_byte : generated.end_byte].startswith(b"pub fn generated() -> Generated {")
    assert source[generated.start_byte : generated.end_byte].endswith(b"}")
    assert (generated.start_line, generated.end_line) == (36, 38)


def test_syntax_error_gives_partial_outline() -> None:
    result = outline((FIXTURES / "broken.rs").read_bytes())
    assert (result.status, result.error_count) == (FileStatus.PARTIAL, 1)
    assert rows(result) == [
        (K.STRUCT, "Lexer", 5, None, V.PUBLIC),
        (K.FIELD, "Lexer::chars", 6, "Lexer", V.PRIVATE),
        (K.FIELD, "Lexer::line", 7, "Lexer", V.PRIVATE),
        (K.IMPL, "impl Lexer", 10, None, V.PUBLIC),
        (K.METHOD, "Lexer::new", 11, "impl Lexer", V.PUBLIC),
        (K.METHOD, "Lexer::next_token", 15, "impl Lexer", V.PUBLIC),
        (K.FUNCTION, "count_lines", 24, None, V.PUBLIC),
    ]
    assert imports(result) == [("std::str", "Chars", None, Origin.STDLIB, 3)]


def test_use_trees_expand_to_leaves() -> None:
    source = b"""use a::{b, c::d};
use ::ext::Thing as Other;
use self::local::{self as here, nested::{deep, *}};
use super::*;
use proc_macro::TokenStream;
use core::{};
fn body() { use std::io::Write; }
"""
    assert imports(outline(source)) == [
        ("a", "b", None, Origin.THIRD_PARTY, 1),
        ("a::c", "d", None, Origin.THIRD_PARTY, 1),
        ("ext", "Thing", "Other", Origin.THIRD_PARTY, 2),
        ("self", "local", "here", Origin.LOCAL, 3),
        ("self::local::nested", "deep", None, Origin.LOCAL, 3),
        ("self::local::nested", "*", None, Origin.LOCAL, 3),
        ("super", "*", None, Origin.LOCAL, 4),
        ("proc_macro", "TokenStream", None, Origin.STDLIB, 5),
    ]


def test_visibility_modifiers() -> None:
    source = b"""pub fn a() {}
pub(crate) fn b() {}
pub(super) fn c() {}
pub(self) fn d() {}
pub(in crate::x) fn e() {}
fn f() {}
pub trait T { fn g(&self); }
trait Hidden { fn h(&self); }
"""
    assert [(s.qualified_name, s.visibility) for s in outline(source).symbols] == [
        ("a", V.PUBLIC),
        ("b", V.CRATE),
        ("c", V.RESTRICTED),
        ("d", V.RESTRICTED),
        ("e", V.RESTRICTED),
        ("f", V.PRIVATE),
        ("T", V.PUBLIC),
        ("T::g", V.PUBLIC),
        ("Hidden", V.PRIVATE),
        ("Hidden::h", V.PRIVATE),
    ]


def test_impl_names_strip_generics() -> None:
    source = b"""mod m {
    impl<T: Clone> From<Vec<T>> for Wrapper<T> { fn from(v: Vec<T>) -> Self { todo!() } }
    impl<'a> Trait for &'a str {}
}
"""
    assert rows(outline(source)) == [
        (K.MODULE, "m", 1, None, V.PRIVATE),
        (K.IMPL, "m::impl From for Wrapper", 2, "m", V.PUBLIC),
        (K.METHOD, "m::Wrapper::from", 2, "m::impl From for Wrapper", V.PUBLIC),
        (K.IMPL, "m::impl Trait for &'a str", 3, "m", V.PUBLIC),
    ]


def test_negative_impl_keeps_its_bang() -> None:
    """`impl !Send for T` says T is not Send: dropping the `!` would name the opposite impl."""
    source = b"unsafe impl<T> !Send for Handle<T> {}\nimpl<T> Send for Other<T> {}\n"
    assert [symbol.qualified_name for symbol in outline(source).symbols] == [
        "impl !Send for Handle",
        "impl Send for Other",
    ]


def test_macro_bodies_in_impls_and_modules() -> None:
    source = b"""struct S;
impl S {
    getters! {
        pub fn width(&self) -> u32 { 1 }
    }
}
mod inner {
    outer! { wrap! { pub const DEPTH: u8 = 2; } }
    vec![1, 2, 3];
    bitflags! { pub struct Flags: u32 { const A = 1; } }
}
"""
    result = outline(source)
    assert rows(result) == [
        (K.STRUCT, "S", 1, None, V.PRIVATE),
        (K.IMPL, "impl S", 2, None, V.PUBLIC),
        (K.METHOD, "S::width", 4, "impl S", V.PUBLIC),
        (K.MODULE, "inner", 7, None, V.PRIVATE),
        (K.CONSTANT, "inner::DEPTH", 8, "inner", V.PUBLIC),
    ]
    assert [s.from_macro for s in result.symbols] == [False, False, True, False, True]
    depth = result.symbols[4]
    assert source[depth.start_byte : depth.end_byte] == b"pub const DEPTH: u8 = 2;"
    assert result.unexpanded_macros == 2  # vec![...]; and bitflags! (not Rust items)


def nested_macros(levels: int) -> bytes:
    body = b"const LEAF: u8 = 0;"
    for level in range(levels):
        body = b"m%d! { %s }" % (level, body)
    return body + b"\n"


def test_macros_in_macro_bodies_expand_up_to_max_depth() -> None:
    source = nested_macros(MAX_MACRO_DEPTH)
    result = outline(source)
    leaf = (source.index(b"const LEAF"), source.index(b"; }"))
    assert [(s.name, s.from_macro, s.start_byte, s.end_byte - 1) for s in result.symbols] == [("LEAF", True, *leaf)]
    assert result.unexpanded_macros == 0


def test_macros_nested_deeper_are_all_counted_unexpanded() -> None:
    result = outline(nested_macros(MAX_MACRO_DEPTH + 1))
    assert result.symbols == ()
    assert result.unexpanded_macros == MAX_MACRO_DEPTH + 1  # none of them yielded an item


def test_bom_and_crlf() -> None:
    source = b"\xef\xbb\xbf//! Docs.\r\n\r\npub struct S {\r\n    pub x: u8,\r\n}\r\n"
    result = outline(source)
    assert result.status is FileStatus.PARSED
    assert rows(result) == [(K.STRUCT, "S", 3, None, V.PUBLIC), (K.FIELD, "S::x", 4, "S", V.PUBLIC)]
    assert source[result.symbols[1].start_byte : result.symbols[1].end_byte] == b"pub x: u8"


def test_macro_bodies_share_a_parse_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"items! {\n" + b"const A: u8 = 0;\n" * 5_000 + b"}\n"
    assert outline(source).unexpanded_macros == 0
    monkeypatch.setattr(rust, "MACRO_PARSE_TIMEOUT_S", 0.0)
    result = outline(source)
    assert (result.symbols, result.unexpanded_macros) == ((), 1)


WALKED = b"""//! crate docs
#![allow(dead_code)]
extern crate alloc as a;
use std::{fmt, io::Write as _};
/// docs
#[derive(Debug)]
pub(crate) struct S { pub x: u8, /* c */ crate_field: u8, #[cfg(test)] pub(super) y: u8 }
pub union U { a: u32 }
pub enum E { A, B(u8) }
pub trait T { const N: usize; fn f(&self); fn g(&self) {} m!(); }
impl<X> T for S { const N: usize = 1; type A = u8; fn f(&self) {} m!(); }
impl S { pub const C: u8 = 0; type B = u8; fn new() -> Self { todo!() } n! { fn inner() {} } }
extern "C" { fn ext(); static EXT: u8; }
#[macro_export]
macro_rules! mac { () => {}; }
mod m { pub mod deeper { fn f() {} } items! { struct Q; } }
thread_local! { static TL: u8 = 0; }
m2!(struct R;);
crate fn old_crate() {}
pub static P: u8 = 0;
type Alias = u8;
"""


@pytest.mark.parametrize(
    "path",
    [FIXTURES / "store.rs", *(Path(__file__).parent / "parity_samples" / name for name in ("edges.rs", "limits.rs"))],
    ids=lambda path: path.name,
)
def test_walk_finds_what_the_query_finds(path: Path) -> None:
    _assert_walk_matches_query(path.read_bytes())


def test_walk_finds_what_the_query_finds_on_every_item_kind() -> None:
    _assert_walk_matches_query(WALKED)
    assert [(s.qualified_name, s.visibility) for s in outline(WALKED).symbols if s.kind is K.FIELD] == [
        ("S::x", V.PUBLIC),
        ("S::crate_field", V.PRIVATE),
        ("S::y", V.RESTRICTED),
        ("U::a", V.PRIVATE),
    ]


def _assert_walk_matches_query(source: bytes) -> None:
    adapter = adapter_for("rust")
    root = adapter.parse(source, ParseBudget(timeout_s=10)).root_node
    assert not root.has_error

    def spans(found: dict[str, list[tree_sitter.Node]]) -> dict[str, list[tuple[int, int]]]:
        return {
            key: sorted((n.start_byte, n.end_byte) for n in nodes) for key, nodes in found.items() if key != "scope"
        }

    by_walk = spans(find_items(root))
    assert by_walk == spans(scope_captures(adapter, root))
    assert by_walk
