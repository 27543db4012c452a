; Definitions and imports of a Python file, run over the whole tree.
;
; The adapter runs this query on trees with syntax errors, where tree-sitter's recovery can leave
; a definition at any depth inside ERROR nodes. A clean tree is walked statement list by
; statement list instead (workers/languages/python.py), which finds the same nodes in a third of
; the time; keep the two in step (tests/workers/test_python_adapter.py checks it).

(class_definition) @class
(function_definition) @function

; the grammar also reads `type(x).attr = value` as a type alias: require a name on the left
(type_alias_statement left: (type (identifier))) @type_alias
(type_alias_statement left: (type (generic_type))) @type_alias

; assignments: the adapter keeps those at module level (module variables and constants)
(expression_statement (assignment) @assignment)

[(import_statement) (import_from_statement) (future_import_statement)] @import
