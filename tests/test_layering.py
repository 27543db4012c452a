"""Import arrows point one way: parsefleet -> producer, workers -> common."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "common": {"producer", "workers", "parsefleet"},
    "producer": {"workers", "parsefleet"},
    "workers": {"producer", "parsefleet"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downstream(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    wrong = {str(path.relative_to(ROOT)): sorted(_imported_packages(path) & FORBIDDEN[package]) for path in modules}
    assert {k: v for k, v in wrong.items() if v} == {}
