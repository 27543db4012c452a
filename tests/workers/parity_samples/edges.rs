//! Rust constructs whose outline is easy to get wrong: the parity tests compare tree-sitter's outline
//! of it with syn's (tests/workers/test_parity_programs.py).
#![allow(dead_code)]
unsafe impl<T> !Send for X<T> {}
impl<T: ?Sized> Foo for &mut T {}
impl Trait for dyn  Foo + Send {}
impl<T> ops::Add<T> for <T as X>::Y { type Output = T; fn add(self, o: T) -> T { o } }
impl<const N: usize> A for [u8; N] {}
impl Foo for (A, B) {}
impl Foo for fn(u8) {}
impl<T> Foo for Box<dyn Fn(T)>{}
impl<T> Foo for ::std::vec::Vec<T> {}
impl<'a, T> Foo<'a> for Bar<'a, T> where T: Clone {
    const C: u8 = 1;
    pub(crate) fn method(&self) {}
}
pub(in crate::a) struct R { pub(super) x: u8, r#type: u8 }
pub(self) enum E { A, B }
const _: () = ();
static mut M: u8 = 0;
pub type Alias<T> = Vec<T>;
#[macro_export]
macro_rules! m { () => {}; }
macro_rules! n ( () => {} );
extern "C" { pub fn c_fn(x: i32) -> i32; static C_STATIC: u8; type Opaque; }
pub trait T2: Clone { type Assoc; const K: u8; fn req(&self); fn prov(&self) {} }
mod outer { pub mod inner { pub fn f() {} impl super::X { pub fn g() {} } } mod decl; }
union U { a: u8, b: u16 }
pub struct Tuple(pub u8, u16);
struct Unit;
fn generic<T: Into<String>>(t: T) -> String where T: Clone { t.into() }
async fn a() {}
const fn cf() {}
unsafe extern "C" fn ef() {}
pub(crate) use std::{fmt::{self, Display as D}, io::*, self as stdlib};
use ::serde::Serialize;
extern crate core as kore;
cfg_if::cfg_if! { if #[cfg(unix)] { fn u() {} } }
my_macro! { pub struct FromMacro { pub f: u8 } impl FromMacro { fn m() {} } }
my_macro!(fn paren_item() {});
outer_mac! { inner_mac! { fn deep() {} } }
a1! { a2! { a3! { a4! { fn too_deep() {} } } } }
impl S { nested_mac! { fn in_impl(&self) {} const IC: u8 = 0; } }
trait TM { trait_mac! { fn in_trait(&self); } }
default_fn! {}
pub struct Gen<T> where T: Copy { pub t: T }
impl<T> Gen<T> { pub fn new(t: T) -> Self { Self { t } } }
fn outer_fn() { fn inner_fn() {} struct Local; }
