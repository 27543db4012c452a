; Definitions and imports of one Rust scope: the crate file, an inline `mod` body, or an ERROR
; node the parser left at item level.
;
; The adapter runs this query on one scope at a time with max_start_depth 1, so every pattern
; starts at an item of that scope and function bodies are never visited: only items are outlined
; (items declared inside function bodies are local and left out). @scope captures the next scopes
; to visit: inline module bodies, and ERROR nodes that may hold items.
;
; Capture names are kinds; the suffix says where visibility comes from: none = the item's own
; `pub`, `.public` = always public (members of a trait impl take no `pub`), `.trait` = the
; enclosing trait's, `.export` = public when #[macro_export].

(mod_item) @module
(mod_item body: (declaration_list) @scope)
(struct_item) @struct
(union_item) @union
(enum_item) @enum
(trait_item) @trait
(impl_item) @impl
(function_item) @function
(const_item) @constant
(static_item) @static
(type_item) @type_alias
(macro_definition) @macro_rules.export

; named fields of structs and unions
(struct_item body: (field_declaration_list (field_declaration) @field))
(union_item body: (field_declaration_list (field_declaration) @field))

; members of traits, inherent impls, trait impls and extern blocks
(trait_item body: (declaration_list [(function_item) (function_signature_item)] @function.trait))
(trait_item body: (declaration_list (const_item) @constant.trait))
(impl_item !trait body: (declaration_list (function_item) @function))
(impl_item !trait body: (declaration_list (const_item) @constant))
(impl_item !trait body: (declaration_list (type_item) @type_alias))
(impl_item trait: (_) body: (declaration_list (function_item) @function.public))
(impl_item trait: (_) body: (declaration_list (const_item) @constant.public))
(impl_item trait: (_) body: (declaration_list (type_item) @type_alias.public))
(foreign_mod_item body: (declaration_list (function_signature_item) @function))
(foreign_mod_item body: (declaration_list (static_item) @static))

; imports
(use_declaration) @use
(extern_crate_declaration) @extern_crate

; item-level macro invocations: the adapter tries to read their bodies as items
(macro_invocation) @macro
(expression_statement (macro_invocation) @macro)
(impl_item body: (declaration_list (macro_invocation) @macro))
(trait_item body: (declaration_list (macro_invocation) @macro))

(ERROR) @scope
