"this crate needs the std or alloc feature"
