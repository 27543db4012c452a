"""One import root, and import arrows that point one way.

Inside ``parsefleet`` each concern may import only the concerns below it; the worker's runtime
loads none of the producer, the CLI, the services, the bench or the parity tool; the contract
does no I/O.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Where each subpackage's source lives in the repository (pyproject's package-dir mapping).
SOURCES = {
    "contract": ROOT / "parsefleet" / "contract",
    "plumbing": ROOT / "parsefleet" / "plumbing",
    "producer": ROOT / "producer",
    "workers": ROOT / "workers",
    "telemetry": ROOT / "parsefleet" / "telemetry",
    "services": ROOT / "parsefleet" / "services",
    "reading": ROOT / "parsefleet" / "reading",
    "parity": ROOT / "parsefleet" / "parity",
    "bench": ROOT / "parsefleet" / "bench",
    "console": ROOT / "parsefleet" / "console",
    "cli": ROOT / "parsefleet" / "cli",
}
# The concerns each one may import (besides itself).
ALLOWED = {
    "contract": set(),
    "plumbing": {"contract"},
    "producer": {"contract", "plumbing"},
    "workers": {"contract", "plumbing", "telemetry"},
    "telemetry": {"contract", "plumbing", "services"},
    "services": {"contract", "plumbing"},
    "reading": {"contract", "plumbing"},
    "parity": {"contract", "workers"},
    "bench": {"contract", "plumbing", "producer", "workers", "telemetry", "services", "reading"},
    "console": {"contract", "plumbing", "reading", "services"},
    "cli": set(SOURCES) - {"cli"},
}
# Libraries that do I/O: the contract is plain data and rules.
IO_LIBRARIES = {"redis", "psycopg", "celery", "kombu", "statsd", "socket", "subprocess"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _concern(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "parsefleet" and len(parts) > 1 and parts[1] in SOURCES else None


@pytest.mark.parametrize("concern", sorted(SOURCES))
def test_a_concern_imports_only_the_ones_below_it(concern: str) -> None:
    modules = sorted(SOURCES[concern].rglob("*.py"))
    assert modules
    wrong: dict[str, list[str]] = {}
    for path in modules:
        used = {_concern(name) for name in _imports(path)} - {None, concern}
        if bad := sorted(str(name) for name in used - ALLOWED[concern]):
            wrong[str(path.relative_to(ROOT))] = bad
    assert wrong == {}


def test_every_import_is_under_the_one_root() -> None:
    """No module imports the repository's folders by their own names (``workers``, ``producer``)."""
    top_level = {"workers", "producer", "schema", "common"}
    wrong = {
        str(path.relative_to(ROOT)): sorted(name for name in _imports(path) if name.split(".")[0] in top_level)
        for source in SOURCES.values()
        for path in source.rglob("*.py")
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_contract_does_no_io() -> None:
    found = {
        str(path.relative_to(ROOT)): sorted(name for name in _imports(path) if name.split(".")[0] in IO_LIBRARIES)
        for path in SOURCES["contract"].rglob("*.py")
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_git_runs_in_one_module_only() -> None:
    """Every git command goes through parsefleet.producer.git, where a repository's configuration
    cannot run programs (docs/security.md)."""
    naming_git = re.compile(r"""["']git["']""")
    found = sorted(
        str(path.relative_to(ROOT))
        for source in SOURCES.values()
        for path in source.rglob("*.py")
        if naming_git.search(path.read_text())
    )
    assert found == ["producer/git.py"]


def test_the_worker_runtime_loads_no_tool() -> None:
    """Building a worker's app loads the worker and what it needs, and no other concern."""
    script = (
        "import sys\n"
        "from parsefleet.contract.settings import Settings\n"
        "from parsefleet.workers.app import build_app\n"
        "build_app(Settings(redis_url='redis://127.0.0.1:1/0', database_url='postgresql://x@127.0.0.1:1/x'))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('parsefleet.'))))\n"
    )
    done = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True)
    loaded = {_concern(name) for name in done.stdout.split()} - {None}
    assert "workers" in loaded
    assert loaded <= {"contract", "plumbing", "telemetry", "workers"}
