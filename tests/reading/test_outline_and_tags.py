"""``parsefleet outline`` and ``parsefleet tags`` on outlines a real run stored; the tags file read
back with universal-ctags' own ``readtags`` and compared with what ``ctags`` itself finds."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers
from tests.conftest import unavailable
from tests.reading.indexed import cli, expected_outline, index

pytestmark = pytest.mark.service


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} (Debian: universal-ctags)", OSError("not on PATH"))
    assert found is not None
    return found


def test_outline_is_the_adapters_tree_with_imports_and_their_origin(
    settings: Settings, worker: LocalWorkers, repo: Path
) -> None:
    index(settings, repo)
    done = cli(settings, "outline", repo.name, "python/inventory.py", "--json")
    assert done.returncode == 0, done.stderr
    outline = json.loads(done.stdout)
    expected = expected_outline(repo / "python" / "inventory.py")
    flat = [(s["kind"], s["qualified_name"], s["parent"], s["start_line"], s["end_line"]) for s in outline["symbols"]]
    assert flat == [(s.kind.value, s.qualified_name, s.parent, s.start_line, s.end_line) for s in expected.symbols]
    warehouse = next(node for node in outline["tree"] if node["name"] == "Warehouse")
    shelf = next(node for node in warehouse["children"] if node["name"] == "Shelf")
    assert [child["qualified_name"] for child in shelf["children"]] == [
        "Warehouse.Shelf.__init__",
        "Warehouse.Shelf.__len__",
    ]
    imports = [(i["module"], i["name"], i["alias"], i["origin"], i["line"]) for i in outline["imports"]]
    assert imports == [(i.module, i.name, i.alias, i.origin.value, i.line) for i in expected.imports]
    assert {i["origin"] for i in outline["imports"]} == {"stdlib", "third_party", "local"}
    text = cli(settings, "outline", str(repo), str(repo / "python" / "inventory.py"))
    assert text.returncode == 0, text.stderr
    assert "\n    class Shelf  54-60  public\n      method __init__  55-57  public\n" in text.stdout
    assert "  requests.adapters.HTTPAdapter as Adapter  third_party  line 13" in text.stdout


def test_outline_of_what_is_not_indexed_is_a_one_line_error(
    settings: Settings, worker: LocalWorkers, repo: Path, tmp_path: Path
) -> None:
    twin = tmp_path / "elsewhere" / repo.name
    shutil.copytree(repo, twin)
    index(settings, repo, twin)
    cases = {
        ("no-such-repo", "python/inventory.py"): "no repository 'no-such-repo' in the index",
        (str(repo), "python/nope.py"): f"no file 'python/nope.py' in the current tree of {repo}",
        (str(repo), "../../etc/passwd"): "no file '../../etc/passwd'",
        (repo.name, "python/inventory.py"): f"repository '{repo.name}' is ambiguous",
    }
    for (name, path), message in cases.items():
        done = cli(settings, "outline", name, path)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_tags_file_reads_back_with_readtags(
    settings: Settings, worker: LocalWorkers, repo: Path, tmp_path: Path
) -> None:
    readtags = _tool("readtags")
    index(settings, repo)
    tags = tmp_path / "tags"
    done = cli(settings, "tags", str(repo), "-o", str(tags))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(tags.stat().st_mode) == 0o600
    lines = tags.read_text().splitlines()
    assert lines[0].startswith("!_TAG_FILE_FORMAT\t2\t") and lines[1].startswith("!_TAG_FILE_SORTED\t1\t")
    body = [line for line in lines if not line.startswith("!_TAG_")]
    assert body == sorted(body, key=lambda line: line.split("\t")[0].encode())

    def read(*args: str) -> list[str]:
        found = subprocess.run([readtags, "-t", str(tags), "-e", *args], capture_output=True, text=True, check=True)
        return found.stdout.splitlines()

    assert read("-n", "Inventory") == [
        'Inventory\tpython/inventory.py\t86;"\tkind:class\tline:86\tend:102\tlanguage:Python\taccess:public'
    ]
    assert read("-n", "lookup") == [
        'lookup\tpython/inventory.py\t87;"\tkind:method\tline:87\tend:93\tlanguage:Python\tclass:Inventory\taccess:public'
    ]
    assert [line.split("\t")[1] for line in read("-n", "(*Cache).Get")] == ["go/server.go"]
    news = read("-n", "new")  # a binary search over the sorted file finds every one
    assert {line.split("\t")[1] for line in news} >= {"rust/store.rs"} and all("language:Rust" in x for x in news)
    every = read("-l")
    assert len(every) == len(body)
    for path in (repo / "python" / "inventory.py", repo / "go" / "server.go", repo / "rust" / "store.rs"):
        relative = path.relative_to(repo).as_posix()
        names = {line.split("\t")[0] for line in every if line.split("\t")[1] == relative}
        assert {s.name for s in expected_outline(path).symbols} <= names


def test_tags_agree_with_universal_ctags_on_python(settings: Settings, worker: LocalWorkers, repo: Path) -> None:
    """Every class, method and function ctags itself finds in the fixture's main Python file is in our
    file, on the same line."""
    ctags = _tool("ctags")
    index(settings, repo)
    done = cli(settings, "tags", str(repo))
    assert done.returncode == 0, done.stderr
    ours = {(f[0], f[1], f[2].removesuffix(';"')) for f in (line.split("\t") for line in done.stdout.splitlines())}
    command = [ctags, "-f", "-", "--fields=+nK", "--kinds-Python=cmf", "python/inventory.py"]
    theirs = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=True).stdout.splitlines()
    assert theirs
    for line in theirs:
        fields = line.split("\t")
        number = next(f.removeprefix("line:") for f in fields if f.startswith("line:"))
        assert (fields[0], fields[1], number) in ours, line


def test_tags_leave_out_file_names_that_would_break_the_format(
    settings: Settings, worker: LocalWorkers, tmp_path: Path
) -> None:
    repo = tmp_path / "odd"
    repo.mkdir()
    (repo / "tab\there.py").write_text("def in_tab():\n    pass\n")
    (repo / "plain.py").write_text("def in_plain():\n    pass\n")
    index(settings, repo)
    done = cli(settings, "tags", str(repo))
    assert done.returncode == 0, done.stderr
    names = [line.split("\t")[0] for line in done.stdout.splitlines() if not line.startswith("!_")]
    assert names == ["in_plain"]
    assert "1 definitions left out: their file names hold control characters" in done.stderr
