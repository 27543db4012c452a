"""Parity against the reference programs: go/parser and syn, built from committed source.

The sample tests build and run the real programs (Debian's golang-go, librust-syn-dev, and cargo);
without them they skip on a developer's machine and fail under CI=true (.ci/run installs them
with `make corpus`). test_large_corpus_parity also needs corpus/large (`make corpus`) and fails
without it under CI. Builds go to the settings' cache directory and are reused.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from parsefleet.cli.main import main
from parsefleet.contract.errors import ReferenceUnavailable
from parsefleet.contract.languages import LANGUAGES
from parsefleet.contract.outline import Outline
from parsefleet.contract.settings import Settings
from parsefleet.parity.comparison import (
    REFERENCES,
    Aspect,
    Cause,
    Reference,
    compare_corpus,
    compare_file,
    references,
    tree_sitter_outline,
)
from parsefleet.parity.go_program import GoReference
from parsefleet.parity.program import Build, ReferenceFailure, ReferenceProgram
from tests.conftest import IN_CI

SAMPLES = Path(__file__).parent / "parity_samples"
FIXTURES = Path(__file__).parents[1] / "fixtures"
LARGE_CORPUS = Path(__file__).parents[2] / "corpus" / "large"
BOM = b"\xef\xbb\xbf"
EDGES = {"go": ("edges.go", 38), "rust": ("edges.rs", 59)}  # sample, definitions in it
# The disagreement classes docs/outline.md explains for corpus/large; anything else is a regression.
KNOWN_CAUSES = {
    "python": {Cause.TREE_SITTER_PARTIAL},
    "go": set(),
    "rust": {Cause.ONLY_REFERENCE, Cause.ONLY_TREE_SITTER, Cause.REFERENCE_FAILED},
}
MIN_FILES = {"python": 1_500, "go": 3_500, "rust": 1_000}


def _missing(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def programs() -> dict[str, Reference]:
    """The Go and Rust references, built (or found in the cache) once for the module."""
    found, missing = references(Settings.from_env(), ["go", "rust"])
    if missing:
        _missing("; ".join(missing.values()))
    return found


# --- the committed samples -----------------------------------------------------------------------


@pytest.mark.parametrize(("language", "broken", "line"), [("go", "go/broken.go", 17), ("rust", "rust/broken.rs", 18)])
def test_committed_fixtures_agree(programs: Mapping[str, Reference], language: str, broken: str, line: int) -> None:
    report = compare_corpus(FIXTURES, [language], programs)
    (parity,) = report.languages
    assert parity.files == 2
    assert parity.compared == parity.agreed > 30
    assert parity.failed_files == {Cause.REFERENCE_FAILED: 1}  # the reference rejects broken.go / broken.rs
    (failure,) = parity.disagreements[Cause.REFERENCE_FAILED]
    assert (failure.path, failure.line) == (broken, line)
    assert all(figure.agreement == 1.0 and figure.compared > 0 for figure in parity.aspects.values())
    assert report.passes(0.995)


@pytest.mark.parametrize("language", ["go", "rust"])
@pytest.mark.parametrize("variant", ["as committed", "BOM", "CRLF", "BOM and CRLF"])
def test_edge_samples_agree_fully(programs: Mapping[str, Reference], language: str, variant: str) -> None:
    name, definitions = EDGES[language]
    source = (SAMPLES / name).read_bytes()
    if "CRLF" in variant:
        source = source.replace(b"\n", b"\r\n")
    if "BOM" in variant:
        source = BOM + source
    result = compare_file(language, source, programs, name)
    assert (result.compared, result.agreed) == (definitions, definitions)
    assert not result.partial
    assert result.aspect_disagreements == ()
    assert result.aspects[Aspect.IMPORTS].compared > 5


@pytest.mark.parametrize("language", ["go", "rust"])
def test_byte_spans_agree(programs: Mapping[str, Reference], language: str) -> None:
    """Spans are compared nowhere else: the references map positions to the file's bytes too."""
    source = BOM + (SAMPLES / EDGES[language][0]).read_bytes().replace(b"\n", b"\r\n")
    expected = programs[language].outline(source)
    assert isinstance(expected, Outline)
    spans = {(s.qualified_name, s.start_line): (s.start_byte, s.end_byte) for s in expected.symbols}
    actual = tree_sitter_outline(language, source).symbols
    assert [spans[s.qualified_name, s.start_line] for s in actual] == [(s.start_byte, s.end_byte) for s in actual]


def test_rust_limits_sample_shows_the_documented_classes(programs: Mapping[str, Reference]) -> None:
    result = compare_file("rust", (SAMPLES / "limits.rs").read_bytes(), programs, "limits.rs")
    found = sorted((str(item.cause), item.detail) for item in result.disagreements)
    assert found == [
        ("only-reference", "impl impl Waiter"),  # tree-sitter-rust rejects `impl<>`
        ("only-reference", "method Waiter::addr_of_pointers"),
        ("only-tree-sitter", "static NUMBER"),  # tree-sitter-rust accepts lazy_static's `static ref`
    ]
    fragment = compare_file("rust", (SAMPLES / "fragment.rs").read_bytes(), programs, "fragment.rs")
    assert fragment.failed is Cause.REFERENCE_FAILED  # not a module: a fragment for include!


def test_cli_parity_with_every_reference(
    programs: Mapping[str, Reference], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("edges.go", "edges.rs"):
        shutil.copy(SAMPLES / name, corpus / name)
    (corpus / "m.py").write_text("def f():\n    pass\n")
    assert main(["parity", str(corpus)]) == 0
    printed = capsys.readouterr().out
    assert "go (reference: go/parser (go1." in printed
    assert "rust (reference: syn 1." in printed
    assert printed.count("agreement 100.0000%") == 3


# --- building and running (no toolchain needed) --------------------------------------------------

FAKE_OUTLINER = """import json, sys
for path in sys.argv[1:]:
    if "crash" in path:
        sys.stderr.write("fatal: stack overflow\\n")
        sys.exit(3)
    if "garbage" in path:
        print("not json")
        continue
    print(json.dumps({"path": path, "symbols": [], "imports": []}), flush=True)
"""


class FakeProgram(ReferenceProgram):
    """A 'built' program that is a Python script, to test running without a toolchain."""

    language = "go"
    suffix = ".go"
    source_dir = SAMPLES

    def __init__(self, settings: Settings, script: Path) -> None:
        super().__init__(settings)
        self.script = script

    @property
    def parser_name(self) -> str:
        return "fake"

    def toolchain(self) -> tuple[str, str]:
        return "/bin/false", "fake 1"

    def build(self, tool: str, source: Path, build_dir: Path) -> Build:
        return Build([tool], {}, build_dir / "never")

    def binary(self) -> Path:
        return self.script


@pytest.fixture
def fake(tmp_path: Path) -> FakeProgram:
    script = tmp_path / "outline"
    script.write_text(f"#!{sys.executable}\n{FAKE_OUTLINER}")
    script.chmod(0o755)
    return FakeProgram(Settings.from_env({}, cache_dir=tmp_path / "cache"), script)


def test_a_program_that_dies_fails_that_file_and_restarts_after_it(fake: FakeProgram) -> None:
    paths = [Path("a.go"), Path("crash.go"), Path("b.go")]
    results = list(fake.outlines(paths))
    assert [type(item) for item in results] == [Outline, ReferenceFailure, Outline]
    assert results[1] == ReferenceFailure("fake died (exit code 3): fatal: stack overflow")


def test_unreadable_output_is_reference_unavailable(fake: FakeProgram) -> None:
    with pytest.raises(ReferenceUnavailable, match="cannot read"):
        list(fake.outlines([Path("garbage.go")]))


def test_failed_build_is_reference_unavailable(tmp_path: Path) -> None:
    program = FakeProgram(Settings.from_env({}, cache_dir=tmp_path / "cache"), tmp_path / "unused")
    for _ in range(2):  # a failed build is never taken for a built program
        with pytest.raises(ReferenceUnavailable, match="building the fake reference failed"):
            ReferenceProgram.binary(program)  # the real build: /bin/false


def test_missing_toolchains_are_reported_and_fail_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARSEFLEET_GO_COMMAND", str(tmp_path / "no-go"))
    monkeypatch.setenv("PARSEFLEET_CARGO_REGISTRY_DIR", str(tmp_path / "no-registry"))
    found, missing = references(Settings.from_env(), ["python", "go", "rust"])
    assert list(found) == ["python"]
    assert "install golang-go" in missing["go"]
    assert "install librust-syn-dev" in missing["rust"] or "cargo not found" in missing["rust"]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "main.go").write_text("package main\n")
    assert main(["parity", str(tmp_path / "corpus"), "--language", "go"]) == 1
    assert "install golang-go" in capsys.readouterr().out


def test_builds_are_cached_by_source_and_toolchain(programs: Mapping[str, Reference], tmp_path: Path) -> None:
    settings = Settings.from_env()
    first = GoReference(settings).binary()
    built_at = first.stat().st_mtime_ns
    assert GoReference(settings).binary() == first
    assert first.stat().st_mtime_ns == built_at  # not built again

    class EditedGoReference(GoReference):
        source_dir = tmp_path / "go"

    shutil.copytree(GoReference.source_dir, EditedGoReference.source_dir)
    with (EditedGoReference.source_dir / "outline.go").open("a") as source:
        source.write("\n// an edit\n")
    edited = EditedGoReference(settings).binary()
    assert edited != first
    assert edited.is_file()
    shutil.rmtree(edited.parent)  # leave the cache as it was


# --- the large corpus ----------------------------------------------------------------------------


@pytest.mark.slow
def test_large_corpus_parity(programs: Mapping[str, Reference]) -> None:
    """corpus/large (`make corpus`): >= 99.5% per language, and only the disagreement classes explained."""
    if not (LARGE_CORPUS / "MANIFEST.json").is_file():
        _missing(f"{LARGE_CORPUS} is not built (make corpus)")
    report = compare_corpus(LARGE_CORPUS, LANGUAGES, {**REFERENCES, **programs})
    for parity in report.languages:
        assert parity.files >= MIN_FILES[parity.language], parity.language
        assert parity.agreement >= 0.995, (parity.language, parity.agreement)
        assert set(parity.disagreements) <= KNOWN_CAUSES[parity.language] | {Cause.REFERENCE_FAILED}
        assert sum(parity.failed_files.values()) <= 2, parity.failed_files
    assert report.passes(0.995)
