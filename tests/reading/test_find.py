"""``parsefleet find`` on outlines a real run stored: names and qualified names in each language,
exact and prefix, filters, the current tree only, and the index that serves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from parsefleet.contract.settings import Settings
from parsefleet.reading.definitions import FindQuery, find_definitions
from parsefleet.services.local_workers import LocalWorkers
from tests.reading.indexed import cli, expected_outline, index

pytestmark = pytest.mark.service


def _found(settings: Settings, *args: str) -> list[dict[str, object]]:
    done = cli(settings, "find", *args, "--json")
    assert done.returncode in {0, 1}, done.stderr
    found: list[dict[str, object]] = json.loads(done.stdout)
    assert (done.returncode == 0) == bool(found)
    return found


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("python/inventory.py", "Inventory"),
        ("python/inventory.py", "Inventory.lookup"),
        ("python/inventory.py", "Warehouse.Shelf.__init__"),
        ("go/server.go", "(*Cache).Get"),
        ("go/server.go", "Cache.Len"),
        ("rust/store.rs", "MemoryStore::new"),
    ],
)
def test_a_definition_is_found_by_name_or_qualified_name_where_the_adapter_put_it(
    settings: Settings, worker: LocalWorkers, repo: Path, path: str, query: str
) -> None:
    index(settings, repo)
    found = _found(settings, query)
    symbols = [s for s in expected_outline(repo / path).symbols if query in {s.name, s.qualified_name}]
    assert symbols, query
    want = {
        (str(repo), path, s.kind.value, s.qualified_name, s.start_line, s.end_line, s.visibility.value) for s in symbols
    }
    got = {
        (d["repository"], d["path"], d["kind"], d["qualified_name"], d["start_line"], d["end_line"], d["visibility"])
        for d in found
    }
    assert want <= got


def test_go_receiver_without_star_finds_the_pointer_method_and_parents_are_named(
    settings: Settings, worker: LocalWorkers, repo: Path
) -> None:
    index(settings, repo)
    assert [d["qualified_name"] for d in _found(settings, "Cache.Get")] == ["(*Cache).Get"]
    shelf_init = _found(settings, "Warehouse.Shelf.__init__")
    assert [(d["parent"], d["parent_kind"]) for d in shelf_init] == [("Warehouse.Shelf", "class")]
    text = cli(settings, "find", "Inventory.lookup")
    assert text.returncode == 0
    assert text.stdout.split()[:2] == ["Inventory.lookup", "method"]
    assert f"{repo}/python/inventory.py:" in text.stdout and "in class Inventory" in text.stdout


def test_exact_prefix_case_and_like_wildcards(settings: Settings, worker: LocalWorkers, repo: Path) -> None:
    index(settings, repo)
    assert _found(settings, "inventory") == []  # exact and case-sensitive by default
    names = {d["qualified_name"] for d in _found(settings, "inv", "--prefix", "-i")}
    assert "Inventory" in names and all(str(n).lower().startswith(("inv", "(*inv")) for n in names)
    underscored = {d["name"] for d in _found(settings, "_", "--prefix", "--language", "python")}
    assert underscored and all(str(name).startswith("_") for name in underscored)  # '_' is no wildcard
    assert _found(settings, "%", "--prefix") == []
    assert _found(settings, "Inv%", "--prefix") == []


_HOSTILE_QUERIES = (
    "x'; DROP TABLE symbols; --",
    "' OR 1=1 --",
    '"; SELECT pg_sleep(5); --',
    "\\",
    "%_%",
    "::",
    "x" * 600,
)


def test_sql_metacharacters_find_nothing_and_break_nothing(
    settings: Settings, worker: LocalWorkers, repo: Path
) -> None:
    index(settings, repo)
    for query in _HOSTILE_QUERIES:
        for mode in ([], ["--prefix"], ["--prefix", "-i"]):
            assert _found(settings, query, *mode) == [], (query, mode)
    assert len(_found(settings, "Inventory")) == 1  # the table is still there


def test_filters_kind_language_and_repository(
    settings: Settings, worker: LocalWorkers, repo: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-copy"
    shutil.copytree(repo, other)
    index(settings, repo, other)
    both = _found(settings, "Inventory")
    assert sorted(d["repository"] for d in both) == sorted([str(repo), str(other)])
    assert [d["repository"] for d in _found(settings, "Inventory", "--repository", "other-copy")] == [str(other)]
    assert [d["repository"] for d in _found(settings, "Inventory", "--repository", str(repo))] == [str(repo)]
    assert _found(settings, "Inventory", "--repository", "no-such-repo") == []
    assert _found(settings, "Inventory", "--kind", "function") == []
    assert _found(settings, "Inventory", "--language", "go") == []
    methods = _found(settings, "Cache", "--prefix", "--kind", "method", "--language", "go")
    assert methods and {d["kind"] for d in methods} == {"method"} and {d["language"] for d in methods} == {"go"}


def test_only_the_current_tree_is_searched(settings: Settings, worker: LocalWorkers, repo: Path) -> None:
    index(settings, repo)
    assert _found(settings, "restock")
    source = repo / "python" / "inventory.py"
    source.write_text(source.read_text().replace("def restock(", "def replenish("))
    index(settings, repo)
    assert _found(settings, "restock") == []
    assert [d["path"] for d in _found(settings, "replenish")] == ["python/inventory.py"]


def test_control_characters_in_names_are_shown_escaped(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = tmp_path / "odd"
    repo.mkdir()
    (repo / "esc\x1b[31mred\u202e.py").write_text("def marker_fn():\n    return 1\n")
    index(settings, repo)
    done = cli(settings, "find", "marker_fn")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
    assert "esc\\x1b[31mred\\u202e.py:1-2" in done.stdout


def test_the_lower_cased_name_indexes_serve_find(settings: Settings, worker: LocalWorkers, repo: Path) -> None:
    """With sequential scans priced out, the plan reads the migration's indexes: they can serve it."""
    index(settings, repo)
    assert settings.database_url
    from parsefleet.plumbing.database import sql
    from parsefleet.reading import definitions

    text = sql(Path(definitions.__file__).parent, "find_definitions")
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("SET enable_seqscan = off")
        for query in (FindQuery("Inventory.lookup"), FindQuery("inv", prefix=True, ignore_case=True)):
            plan = "\n".join(str(row[0]) for row in conn.execute("EXPLAIN " + text, query.params(), prepare=False))
            assert "symbols_name_lower_idx" in plan and "symbols_qualified_name_lower_idx" in plan, plan
        assert [d.qualified_name for d in find_definitions(conn, FindQuery("Inventory.lookup"))] == ["Inventory.lookup"]
