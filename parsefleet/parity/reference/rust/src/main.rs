//! Prints the outline of Rust files, one JSON line per file, in argument order: the reference
//! ("legacy") outline that `parsefleet parity` compares the tree-sitter Rust adapter
//! (workers/languages/rust.py) with. It parses with syn 1 (Debian's librust-syn-dev, built offline)
//! and follows the adapter's rules (docs/outline.md):
//!
//! - items of the file and of inline modules: mod, struct, enum, union, trait, impl, fn, const,
//!   static, type, macro_rules!, and the fns and statics of extern blocks; named fields `S::f`;
//!   items inside function bodies are not outlined;
//! - impl blocks are `impl Type` / `impl Trait for Type` (generic arguments of the outermost names
//!   stripped); their fns are methods `Type::m`, their consts and types `Type::NAME`; trait fns are
//!   methods `Trait::m` and trait consts `Trait::NAME`;
//! - visibility: `pub` public, `pub(crate)` crate, other `pub(..)` restricted, none private; trait
//!   members take their trait's, trait-impl members are public, macro_rules! is public when
//!   `#[macro_export]`;
//! - imports: one per leaf of a `use` tree, and `extern crate`; origin stdlib for
//!   std/core/alloc/proc_macro, local for crate/self/super, third_party otherwise;
//! - item-level macro invocations whose tokens parse as items (syn::File) add those items, marked
//!   from_macro, up to three levels deep; the others are counted as unexpanded.
//!
//! Usage: outline FILE... ; a line is {"path", "symbols", "imports", "unexpanded_macros"}, or
//! {"path", "error": {"line", "message"}} when syn rejects the file.

use std::io::{self, BufWriter, Write};
use std::{env, fs, thread};

use proc_macro2::{Delimiter, LineColumn, TokenTree};
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{
    Field, ForeignItem, ImplItem, Item, ItemImpl, ItemUse, Macro, Path, PathArguments, TraitItem, Type, UseTree,
    Visibility,
};

const MAX_MACRO_DEPTH: usize = 3;
// syn recurses once per nesting level; each file gets its own thread (also: a fresh span map)
const STACK_BYTES: usize = 256 << 20;
const BOM: &str = "\u{feff}";

struct Symbol {
    kind: &'static str,
    name: String,
    qualified: String,
    parent: Option<usize>,
    start: (usize, usize), // (line, byte)
    end: (usize, usize),
    visibility: &'static str,
    from_macro: bool,
}

struct Import {
    module: String,
    name: Option<String>,
    alias: Option<String>,
    line: usize,
}

/// Where definitions go: the qualified-name prefix of their scope and its symbol.
struct Scope {
    prefix: String,
    parent: Option<usize>,
    methods: bool, // an impl or trait body: its fns are methods
}

impl Scope {
    fn join(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}::{}", self.prefix, name)
        }
    }

    fn child(&self, prefix: String, parent: usize, methods: bool) -> Scope {
        Scope { prefix, parent: Some(parent), methods }
    }
}

/// Maps proc-macro2 positions (1-based line, column in chars) to byte offsets of the file.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    bom: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, bom: usize) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        Lines { text, starts, bom }
    }

    fn offset(&self, at: LineColumn) -> usize {
        let start = self.starts[(at.line.max(1) - 1).min(self.starts.len() - 1)];
        let rest = &self.text[start..];
        start + rest.char_indices().nth(at.column).map_or(rest.len(), |(index, _)| index)
    }

    fn slice(&self, from: LineColumn, to: LineColumn) -> &str {
        &self.text[self.offset(from)..self.offset(to).max(self.offset(from))]
    }

    fn position(&self, at: LineColumn) -> (usize, usize) {
        (at.line, self.offset(at) + self.bom)
    }
}

struct Outliner<'a> {
    lines: Lines<'a>,
    symbols: Vec<Symbol>,
    imports: Vec<Import>,
    unexpanded: usize,
    depth: usize,
}

/// The first token after the outer attributes, and the last token.
fn extent(node: &dyn ToTokens) -> (LineColumn, LineColumn) {
    let tokens: Vec<TokenTree> = node.to_token_stream().into_iter().collect();
    let mut index = 0;
    while let Some(TokenTree::Punct(punct)) = tokens.get(index) {
        if punct.as_char() != '#' {
            break;
        }
        index += 1;
        if matches!(tokens.get(index), Some(TokenTree::Punct(bang)) if bang.as_char() == '!') {
            index += 1;
        }
        if matches!(tokens.get(index), Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Bracket) {
            index += 1;
        }
    }
    let first = tokens.get(index).or_else(|| tokens.first());
    match (first, tokens.last()) {
        (Some(first), Some(last)) => (first.span().start(), last.span().end()),
        _ => (LineColumn { line: 1, column: 0 }, LineColumn { line: 1, column: 0 }),
    }
}

fn visibility(vis: &Visibility) -> &'static str {
    match vis {
        Visibility::Public(_) => "public",
        Visibility::Crate(_) => "crate",
        Visibility::Restricted(restricted) if restricted.in_token.is_none() && restricted.path.is_ident("crate") => {
            "crate"
        }
        Visibility::Restricted(_) => "restricted",
        Visibility::Inherited => "private",
    }
}

impl<'a> Outliner<'a> {
    fn add(
        &mut self,
        kind: &'static str,
        name: String,
        scope: &Scope,
        node: &dyn ToTokens,
        vis: &'static str,
    ) -> usize {
        let (start, end) = extent(node);
        // the last character's line: an end at column 0 belongs to the line before
        let end_line = if end.column == 0 && end.line > start.line { end.line - 1 } else { end.line };
        self.symbols.push(Symbol {
            kind,
            qualified: scope.join(&name),
            name,
            parent: scope.parent,
            start: self.lines.position(start),
            end: (end_line, self.lines.position(end).1),
            visibility: vis,
            from_macro: self.depth > 0,
        });
        self.symbols.len() - 1
    }

    fn items(&mut self, items: &[Item], scope: &Scope) {
        for item in items {
            self.item(item, scope);
        }
    }

    fn item(&mut self, item: &Item, scope: &Scope) {
        match item {
            Item::Mod(node) => {
                let index = self.add("module", node.ident.to_string(), scope, node, visibility(&node.vis));
                if let Some((_, items)) = &node.content {
                    self.items(items, &scope.child(scope.join(&node.ident.to_string()), index, false));
                }
            }
            Item::Struct(node) => {
                let index = self.add("struct", node.ident.to_string(), scope, node, visibility(&node.vis));
                if let syn::Fields::Named(fields) = &node.fields {
                    self.fields(&fields.named, &scope.child(scope.join(&node.ident.to_string()), index, false));
                }
            }
            Item::Union(node) => {
                let index = self.add("union", node.ident.to_string(), scope, node, visibility(&node.vis));
                self.fields(&node.fields.named, &scope.child(scope.join(&node.ident.to_string()), index, false));
            }
            Item::Enum(node) => {
                self.add("enum", node.ident.to_string(), scope, node, visibility(&node.vis));
            }
            Item::Trait(node) => self.trait_items(node, scope),
            Item::Impl(node) => self.impl_items(node, scope),
            _ => self.value_item(item, scope),
        }
    }

    fn value_item(&mut self, item: &Item, scope: &Scope) {
        let function = if scope.methods { "method" } else { "function" };
        match item {
            Item::Fn(node) => {
                self.add(function, node.sig.ident.to_string(), scope, node, visibility(&node.vis));
            }
            Item::Const(node) => {
                self.add("constant", node.ident.to_string(), scope, node, visibility(&node.vis));
            }
            Item::Static(node) => {
                self.add("static", node.ident.to_string(), scope, node, visibility(&node.vis));
            }
            Item::Type(node) => {
                self.add("type_alias", node.ident.to_string(), scope, node, visibility(&node.vis));
            }
            Item::Macro(node) => match &node.ident {
                Some(ident) => {
                    let exported =
                        node.attrs.iter().any(|attr| attr.to_token_stream().to_string().contains("macro_export"));
                    self.add("macro", ident.to_string(), scope, node, if exported { "public" } else { "private" });
                }
                None => self.expand(&node.mac, scope),
            },
            Item::ForeignMod(node) => self.foreign_items(&node.items, scope),
            Item::Use(node) => self.uses(node),
            Item::ExternCrate(node) => {
                let module = node.ident.to_string();
                let alias = node.rename.as_ref().map(|(_, alias)| alias.to_string());
                let line = extent(node).0.line;
                self.imports.push(Import { module, name: None, alias, line });
            }
            _ => {}
        }
    }

    fn fields(&mut self, fields: &Punctuated<Field, syn::token::Comma>, scope: &Scope) {
        for field in fields {
            if let Some(ident) = &field.ident {
                self.add("field", ident.to_string(), scope, field, visibility(&field.vis));
            }
        }
    }

    fn foreign_items(&mut self, items: &[ForeignItem], scope: &Scope) {
        for item in items {
            match item {
                ForeignItem::Fn(node) => {
                    self.add("function", node.sig.ident.to_string(), scope, node, visibility(&node.vis));
                }
                ForeignItem::Static(node) => {
                    self.add("static", node.ident.to_string(), scope, node, visibility(&node.vis));
                }
                _ => {}
            }
        }
    }

    fn trait_items(&mut self, node: &syn::ItemTrait, scope: &Scope) {
        let vis = visibility(&node.vis);
        let name = node.ident.to_string();
        let index = self.add("trait", name.clone(), scope, node, vis);
        let inner = scope.child(scope.join(&name), index, true);
        for item in &node.items {
            match item {
                TraitItem::Method(member) => {
                    self.add("method", member.sig.ident.to_string(), &inner, member, vis);
                }
                TraitItem::Const(member) => {
                    self.add("constant", member.ident.to_string(), &inner, member, vis);
                }
                TraitItem::Macro(member) => self.expand(&member.mac, &inner),
                _ => {}
            }
        }
    }

    fn impl_items(&mut self, node: &ItemImpl, scope: &Scope) {
        let type_name = self.type_name(&node.self_ty);
        let name = match &node.trait_ {
            Some((bang, path, _)) => {
                let negative = if bang.is_some() { "!" } else { "" };
                format!("impl {}{} for {}", negative, self.path_name(path), type_name)
            }
            None => format!("impl {}", type_name),
        };
        let index = self.add("impl", name, scope, node, "public");
        let inner = scope.child(scope.join(&type_name), index, true);
        let member_vis = |vis: &Visibility| if node.trait_.is_some() { "public" } else { visibility(vis) };
        for item in &node.items {
            match item {
                ImplItem::Method(member) => {
                    self.add("method", member.sig.ident.to_string(), &inner, member, member_vis(&member.vis));
                }
                ImplItem::Const(member) => {
                    self.add("constant", member.ident.to_string(), &inner, member, member_vis(&member.vis));
                }
                ImplItem::Type(member) => {
                    self.add("type_alias", member.ident.to_string(), &inner, member, member_vis(&member.vis));
                }
                ImplItem::Macro(member) => self.expand(&member.mac, &inner),
                _ => {}
            }
        }
    }

    /// A type as written, whitespace collapsed, generic arguments of its last segment stripped.
    fn type_name(&self, ty: &Type) -> String {
        match ty {
            Type::Path(path) if path.qself.is_none() => self.path_name(&path.path),
            _ => {
                let (start, end) = extent(ty);
                collapse(self.lines.slice(start, end))
            }
        }
    }

    fn path_name(&self, path: &Path) -> String {
        let (start, mut end) = extent(path);
        if let Some(last) = path.segments.last() {
            if matches!(last.arguments, PathArguments::AngleBracketed(_)) {
                end = last.ident.span().end();
            }
        }
        collapse(self.lines.slice(start, end))
    }

    /// Add the items of a macro invocation's tokens when they parse as items; count it otherwise.
    fn expand(&mut self, mac: &Macro, scope: &Scope) {
        if self.depth >= MAX_MACRO_DEPTH {
            self.unexpanded += 1;
            return;
        }
        let file = match syn::parse2::<syn::File>(mac.tokens.clone()) {
            Ok(file) => file,
            Err(_) => {
                self.unexpanded += 1;
                return;
            }
        };
        let (symbols, imports) = (self.symbols.len(), self.imports.len());
        self.depth += 1;
        self.items(&file.items, scope);
        self.depth -= 1;
        if self.symbols.len() == symbols && self.imports.len() == imports {
            self.unexpanded += 1;
        }
    }

    fn uses(&mut self, node: &ItemUse) {
        let line = extent(node).0.line;
        let mut leaves = Vec::new();
        use_leaves(&node.tree, Vec::new(), &mut leaves);
        for (mut segments, alias, glob) in leaves {
            if segments.len() > 1 && segments.last().map(String::as_str) == Some("self") {
                segments.pop(); // `a::{self}` imports `a`
            }
            let (module, name) = if glob || segments.len() < 2 {
                (segments.join("::"), if glob { Some("*".to_string()) } else { None })
            } else {
                let last = segments.pop();
                (segments.join("::"), last)
            };
            self.imports.push(Import { module, name, alias, line });
        }
    }
}

/// (path segments, alias, glob) of every leaf of a use tree.
fn use_leaves(tree: &UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>, bool)>) {
    let with = |ident: &syn::Ident| {
        let mut segments = prefix.clone();
        segments.push(ident.to_string());
        segments
    };
    match tree {
        UseTree::Path(path) => use_leaves(&path.tree, with(&path.ident), out),
        UseTree::Name(name) => out.push((with(&name.ident), None, false)),
        UseTree::Rename(rename) => out.push((with(&rename.ident), Some(rename.rename.to_string()), false)),
        UseTree::Glob(_) => out.push((prefix, None, true)),
        UseTree::Group(group) => {
            for item in &group.items {
                use_leaves(item, prefix.clone(), out);
            }
        }
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn origin(module: &str) -> &'static str {
    match module.split("::").next().unwrap_or("") {
        "std" | "core" | "alloc" | "proc_macro" => "stdlib",
        "crate" | "self" | "super" => "local",
        _ => "third_party",
    }
}

// --- JSON ------------------------------------------------------------------------------------

fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if (ch as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", ch as u32)),
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

fn optional(text: &Option<String>) -> String {
    text.as_deref().map_or_else(|| "null".to_string(), quoted)
}

fn symbol_json(symbol: &Symbol) -> String {
    format!(
        "{{\"kind\":\"{}\",\"name\":{},\"qualified_name\":{},\"parent\":{},\"start_line\":{},\"end_line\":{},\
         \"start_byte\":{},\"end_byte\":{},\"visibility\":\"{}\",\"from_macro\":{}}}",
        symbol.kind,
        quoted(&symbol.name),
        quoted(&symbol.qualified),
        symbol.parent.map_or_else(|| "null".to_string(), |parent| parent.to_string()),
        symbol.start.0,
        symbol.end.0,
        symbol.start.1,
        symbol.end.1,
        symbol.visibility,
        symbol.from_macro,
    )
}

fn import_json(import: &Import) -> String {
    format!(
        "{{\"module\":{},\"name\":{},\"alias\":{},\"origin\":\"{}\",\"line\":{}}}",
        quoted(&import.module),
        optional(&import.name),
        optional(&import.alias),
        origin(&import.module),
        import.line,
    )
}

fn error_json(path: &str, line: usize, message: &str) -> String {
    format!("{{\"path\":{},\"error\":{{\"line\":{},\"message\":{}}}}}", quoted(path), line, quoted(message))
}

// --- one file --------------------------------------------------------------------------------

fn outline(path: &str, source: &str) -> String {
    let (bom, text) = match source.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, source),
    };
    let file = match syn::parse_file(text) {
        Ok(file) => file,
        Err(error) => return error_json(path, error.span().start().line.max(1), &error.to_string()),
    };
    let mut outliner =
        Outliner { lines: Lines::new(text, bom), symbols: Vec::new(), imports: Vec::new(), unexpanded: 0, depth: 0 };
    outliner.items(&file.items, &Scope { prefix: String::new(), parent: None, methods: false });
    let symbols: Vec<String> = outliner.symbols.iter().map(symbol_json).collect();
    let imports: Vec<String> = outliner.imports.iter().map(import_json).collect();
    format!(
        "{{\"path\":{},\"symbols\":[{}],\"imports\":[{}],\"unexpanded_macros\":{}}}",
        quoted(path),
        symbols.join(","),
        imports.join(","),
        outliner.unexpanded
    )
}

fn outline_path(path: String) -> String {
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => return error_json(&path, 1, &error.to_string()),
    };
    let source = match String::from_utf8(bytes) {
        Ok(source) => source,
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            let line = 1 + error.as_bytes()[..valid].iter().filter(|&&byte| byte == b'\n').count();
            return error_json(&path, line, "invalid UTF-8");
        }
    };
    let worker = thread::Builder::new().stack_size(STACK_BYTES).spawn({
        let path = path.clone();
        move || outline(&path, &source)
    });
    match worker.map(thread::JoinHandle::join) {
        Ok(Ok(line)) => line,
        Ok(Err(_)) => error_json(&path, 1, "syn panicked"),
        Err(error) => error_json(&path, 1, &format!("cannot start a thread: {}", error)),
    }
}

fn main() {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for path in env::args().skip(1) {
        if writeln!(out, "{}", outline_path(path)).is_err() {
            std::process::exit(1);
        }
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
}
