"""Language adapters: one module per language, each turning a tree-sitter tree into an Outline."""

from __future__ import annotations

from parsefleet.workers.languages.base import LanguageAdapter

__all__ = ["LanguageAdapter", "adapter_for", "load_adapters"]

_ADAPTERS: dict[str, LanguageAdapter] = {}


def load_adapters() -> dict[str, LanguageAdapter]:
    """Build every adapter once per process (grammars and queries loaded before the first batch)."""
    if not _ADAPTERS:
        from parsefleet.workers.languages.go import GoAdapter
        from parsefleet.workers.languages.python import PythonAdapter
        from parsefleet.workers.languages.rust import RustAdapter

        for adapter in (PythonAdapter(), GoAdapter(), RustAdapter()):
            _ADAPTERS[adapter.language] = adapter
    return _ADAPTERS


def adapter_for(language: str) -> LanguageAdapter:
    """Return the adapter of one language, building all of them on first use."""
    return load_adapters()[language]
