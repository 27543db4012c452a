"""``parsefleet parity``: tree-sitter outlines against reference parsers (CPython ``ast``,
``go/parser``, ``syn``). A quality tool: the workers never import it."""
