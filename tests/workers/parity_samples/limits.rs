//! The disagreement classes left on real crates (docs/outline.md, Parity), one of each.

// tree-sitter-rust cannot read an empty generic parameter list (`impl<>`, valid Rust, tokio's
// generate_addr_of_methods! writes it): the macro body has an error, so it is not expanded, while
// syn expands it: `impl Waiter` and `Waiter::addr_of_pointers` are only in the reference.
generate_addr_of_methods! {
    impl<> Waiter {
        unsafe fn addr_of_pointers(self: NonNull<Self>) -> NonNull<Pointers> {
            &self.pointers
        }
    }
}

// lazy_static!'s `static ref` is not Rust, but tree-sitter-rust's grammar accepts it: the body is
// expanded and NUMBER outlined, while syn rejects the body (not expanded).
lazy_static! {
    static ref NUMBER: u32 = times_two(3);
}

pub struct Waiter;
