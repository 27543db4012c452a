; Definitions and imports of a Go file.
;
; The adapter runs this query with max_start_depth 1 on the source file, and on the ERROR nodes
; it captures as @scope, so every pattern starts at a top-level declaration and function bodies
; are never visited: only package-level declarations are outlined.

(package_clause) @package
(function_declaration) @function
(method_declaration) @method

; every type spec: the adapter picks STRUCT, INTERFACE or TYPE_ALIAS from its type
(type_declaration (type_spec) @type)
(type_declaration (type_alias) @type)

; members: named and embedded struct fields, interface methods
(type_declaration (type_spec type: (struct_type (field_declaration_list (field_declaration) @field))))
(type_declaration (type_spec type: (interface_type (method_elem) @interface_method)))

(const_declaration (const_spec) @constant)
(var_declaration (var_spec) @variable)
(var_declaration (var_spec_list (var_spec) @variable))

(import_declaration (import_spec) @import)
(import_declaration (import_spec_list (import_spec) @import))
; a spec starts at depth 1 only in an ERROR scope (an import block left open)
(import_spec) @import

(ERROR) @scope
