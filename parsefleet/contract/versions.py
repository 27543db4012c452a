"""Parser versions: a blob parsed by the same version of an adapter and grammar is never parsed again.

The producer needs the version to skip known blobs without importing worker code, so it is derived
here from installed package metadata.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["ADAPTER_VERSION", "parser_version"]

# Bump when an adapter's output changes for the same input: every blob is then parsed again.
# 2: Rust negative impls keep their `!` (`impl !Send for T`).
ADAPTER_VERSION = "2"

_GRAMMAR_PACKAGES = {"python": "tree-sitter-python", "go": "tree-sitter-go", "rust": "tree-sitter-rust"}


@cache
def parser_version(language: str) -> str:
    """Return e.g. ``a2/ts0.26.1/tree-sitter-python0.25.0`` for one language."""
    grammar = _GRAMMAR_PACKAGES[language]
    return f"a{ADAPTER_VERSION}/ts{_installed('tree-sitter')}/{grammar}{_installed(grammar)}"


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
