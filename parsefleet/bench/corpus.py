"""Build the benchmark corpora, reproducibly, from source trees on this machine.

Kinds:

- ``large``: every candidate file available: CPython's standard library (the running interpreter's,
  ``sysconfig.get_paths()["stdlib"]``), Go's standard library from Debian's ``golang-1.19-src``
  (``/usr/share/go-1.19/src``) and the Rust crates of ``CORPUS_CRATES`` from Debian's
  ``librust-*-dev`` packages (``/usr/share/cargo/registry/<crate>-<version>/``).
  ``infra/dev/corpus-packages.sh`` installs the Debian packages; this module never needs root.
- ``ts2-200``: the load profile's 1,200 files (``TS2_200_COUNTS``): per language, a
  ``random.Random(seed).sample`` of the sorted candidate list that ``large`` copies whole.
- ``nightly``: what the nightly benchmark (parsefleet.bench.nightly) adds to ``large`` so that its
  repository holds 10,000+ distinct real files: every candidate of ``NIGHTLY_TREES`` (Debian's
  Django and SymPy, golang.org/x/tools) and of the crates of ``NIGHTLY_CRATES``, none of them in
  ``large``, up to ``NIGHTLY_MAX_FILE_BYTES`` each (SymPy's 1.5 MB test of trinomials outgrows a
  pool child's memory budget under the 512 MB cap: failed as ``memory``, every later run would send
  it again, and a nightly run with nothing changed would not be one).

A candidate is a file the producer will parse:

- it has the language's extension (.py, .go, .rs) and is a regular file: symlinks, to files or to
  directories, are never followed nor copied;
- it lies outside ``testdata`` (Go's fixtures; ``_test.go`` files are kept), ``__pycache__``,
  hidden directories and the vendored directories the producer skips (``parsefleet.producer.walk.VENDORED_DIRS``,
  so Go's ``src/vendor`` and ``cmd/vendor`` are left out);
- it is not generated ("Code generated ... DO NOT EDIT"), which the producer skips as well;
- Python: outside ``site-packages`` and ``dist-packages``, and none of CPython's deliberately
  invalid fixtures (``tokenizedata/``, ``lib2to3/tests/data/``, ``badsyntax_*.py``, ``bad_coding*.py``);
- Rust: in a crate named in ``CORPUS_CRATES`` (every version found), so the corpus does not change
  with whichever other ``librust-*-dev`` packages happen to be installed as dependencies.

Output: ``<out>/<kind>/<language>/<source>/<path>`` (e.g. ``corpus/large/go/go-1.19/net/http/server.go``)
and ``<out>/<kind>/MANIFEST.json``: kind, seed, profile, totals per language, the source trees, and
every file with language, source, path, size_bytes and sha256. A kind is built in a hidden sibling
directory and swapped in whole, so a failed build leaves the previous corpus as it was.

Each language's source directory can be overridden by ``--python-src``, ``--go-src``,
``--rust-src`` or the settings ``corpus_{python,go,rust}_src`` (``PARSEFLEET_CORPUS_*_SRC``).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import logging
import os
import random
import re
import shutil
import stat
import sys
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from parsefleet.contract.errors import ConfigError, CorpusError, ParsefleetError
from parsefleet.contract.languages import LANGUAGES
from parsefleet.contract.settings import Settings
from parsefleet.producer.walk import VENDORED_DIRS, is_generated

__all__ = [
    "CORPUS_CRATES",
    "DEFAULT_SEED",
    "KINDS",
    "MANIFEST_NAME",
    "NIGHTLY_CRATES",
    "NIGHTLY_MAX_FILE_BYTES",
    "NIGHTLY_TREES",
    "TS2_200_COUNTS",
    "Manifest",
    "ManifestEntry",
    "SourceTree",
    "build",
    "debian_packages",
    "main",
    "render",
]

log = logging.getLogger(__name__)

DEFAULT_SEED = 20261127
KINDS: tuple[str, ...] = ("ts2-200", "large", "nightly")
# The test corpus of the TS2-200 load profile (DESIGN.md): 1,200 files.
TS2_200_COUNTS: Mapping[str, int] = {"python": 600, "go": 360, "rust": 240}
# Popular crates packaged in Debian 12 as librust-<name>-dev ('_' becomes '-').
CORPUS_CRATES: tuple[str, ...] = (
    "anyhow",
    "bytes",
    "clap",
    "itertools",
    "log",
    "memchr",
    "proc-macro2",
    "quote",
    "rand",
    "regex",
    "regex-syntax",
    "serde",
    "serde_json",
    "syn",
    "thiserror",
    "tokio",
)
# The nightly kind: per language, (source name, directory, the Debian package that installs it).
NIGHTLY_TREES: Mapping[str, tuple[tuple[str, Path, str], ...]] = {
    "python": (
        ("django", Path("/usr/lib/python3/dist-packages/django"), "python3-django"),
        ("sympy", Path("/usr/lib/python3/dist-packages/sympy"), "python3-sympy"),
    ),
    "go": (("x-tools", Path("/usr/share/gocode/src/golang.org/x/tools"), "golang-golang-x-tools-dev"),),
}
# More crates packaged in Debian 12 (most of them installed with CORPUS_CRATES' packages already).
NIGHTLY_CRATES: tuple[str, ...] = (
    "backtrace",
    "compiler_builtins",
    "crossbeam-channel",
    "flate2",
    "gimli",
    "libc",
    "mio",
    "object",
    "petgraph",
    "rayon",
    "rayon-core",
    "rustix",
    "tracing",
    "winapi",
)
NIGHTLY_MAX_FILE_BYTES = 1024 * 1024
GO_PACKAGE = "golang-1.19-src"
GO_SRC_DIRS: tuple[Path, ...] = (Path("/usr/share/go-1.19/src"), Path("/usr/lib/go-1.19/src"))
RUST_REGISTRY_DIR = Path("/usr/share/cargo/registry")
MANIFEST_NAME = "MANIFEST.json"
INSTALL_SCRIPT = "infra/dev/corpus-packages.sh"

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_SUFFIX: Mapping[str, str] = {"python": ".py", "go": ".go", "rust": ".rs"}
_WHAT: Mapping[str, str] = {
    "python": "a CPython standard library (Lib) directory",
    "go": "a Go src directory",
    "rust": "a directory of <crate>-<version> source trees",
}
_SKIP_DIRS = frozenset({"testdata", "__pycache__"}) | VENDORED_DIRS
_PYTHON_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "tokenizedata"})
_PYTHON_SKIP_DIR_PATHS = frozenset({"lib2to3/tests/data"})
_PYTHON_SKIP_NAMES = ("badsyntax_*", "bad_coding*")
_GENERATED_HEAD_BYTES = 4096
_CRATE_DIR = re.compile(r"(?P<name>[A-Za-z0-9_-]+?)-(?P<version>\d+\.\d+\.\d+\S*)")


@dataclass(frozen=True, slots=True)
class SourceTree:
    """One tree files are copied from; ``source`` names it in the corpus (``go-1.19``, ``serde-1.0.152``)."""

    language: str
    source: str
    root: Path


@dataclass(frozen=True, slots=True)
class _Candidate:
    tree: SourceTree
    path: str  # relative to tree.root, '/'-separated

    def sort_key(self) -> tuple[str, str]:
        return (self.tree.source, self.path)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One copied file; it lives at ``<out>/<kind>/<corpus_path>``."""

    language: str
    source: str
    path: str
    size_bytes: int
    sha256: str

    @property
    def corpus_path(self) -> str:
        return f"{self.language}/{self.source}/{self.path}"

    def as_dict(self) -> dict[str, object]:
        return {
            "language": self.language,
            "source": self.source,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a build copied; ``profile`` is the file count per language (None for ``large``)."""

    kind: str
    seed: int
    profile: Mapping[str, int] | None
    sources: tuple[SourceTree, ...]
    files: tuple[ManifestEntry, ...]

    def totals(self) -> dict[str, dict[str, int]]:
        """Files and bytes per language, and ``total`` over all of them."""
        totals = {language: {"files": 0, "size_bytes": 0} for language in self.languages()}
        totals["total"] = {"files": 0, "size_bytes": 0}
        for entry in self.files:
            for key in (entry.language, "total"):
                totals[key]["files"] += 1
                totals[key]["size_bytes"] += entry.size_bytes
        return totals

    def languages(self) -> list[str]:
        present = {tree.language for tree in self.sources}
        return [language for language in LANGUAGES if language in present]

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "seed": self.seed,
            "profile": None if self.profile is None else dict(self.profile),
            "totals": self.totals(),
            "sources": [
                {"language": tree.language, "source": tree.source, "root": str(tree.root)} for tree in self.sources
            ],
            "files": [entry.as_dict() for entry in self.files],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=1) + "\n", encoding="utf-8")


def build(
    kind: str,
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    *,
    counts: Mapping[str, int] | None = None,
    sources: Mapping[str, Path] | None = None,
) -> Manifest:
    """Build ``<out_dir>/<kind>`` and its manifest, replacing a previous build of the same kind.

    ``counts`` replaces ``TS2_200_COUNTS`` (ts2-200 only; its languages are the ones built).
    ``sources`` overrides source directories per language, before the defaults.
    Raises ConfigError for a bad kind or counts, CorpusError for missing or short sources and I/O.
    """
    profile = _profile(kind, counts)
    languages = [language for language in LANGUAGES if profile is None or language in profile]
    overrides = sources or {}
    trees = {language: _trees(kind, language, overrides.get(language)) for language in languages}
    selection: list[_Candidate] = []
    for language in languages:
        found = _candidates(language, trees[language])
        if kind == "nightly":
            found = [item for item in found if (item.tree.root / item.path).stat().st_size <= NIGHTLY_MAX_FILE_BYTES]
        selection += found if profile is None else _sample(kind, found, profile[language], seed)
    every_tree = tuple(tree for language in languages for tree in trees[language])
    manifest = _write(Manifest(kind, seed, profile, every_tree, ()), selection, out_dir / kind)
    log.info("corpus %s: %d files under %s", kind, len(manifest.files), out_dir / kind)
    return manifest


def source_trees(language: str, override: Path | None = None) -> list[SourceTree]:
    """The trees of ``language``: one for Python and Go, one per wanted crate for Rust."""
    root = _source_root(language, override)
    if language == "rust":
        return _crate_trees(root, CORPUS_CRATES)
    name = root.parent.name if root.name == "src" else root.name
    return [SourceTree(language, name, root)]


def _trees(kind: str, language: str, override: Path | None) -> list[SourceTree]:
    if kind != "nightly":
        return source_trees(language, override)
    if language == "rust":
        return _crate_trees(_source_root(language, override), NIGHTLY_CRATES)
    if override is not None:
        return source_trees(language, override)
    missing = [package for _name, root, package in NIGHTLY_TREES[language] if not root.is_dir()]
    if missing:
        raise CorpusError(
            f"{language}: the nightly corpus's sources are not installed; as root: apt-get install"
            f" {' '.join(missing)} (or {INSTALL_SCRIPT}), or {_point_at(language)}"
        )
    return [SourceTree(language, name, root.resolve()) for name, root, _package in NIGHTLY_TREES[language]]


def debian_packages() -> list[str]:
    """The Debian packages that hold the default sources (what the install script installs)."""
    crates = [f"librust-{_crate_key(name)}-dev" for name in (*CORPUS_CRATES, *NIGHTLY_CRATES)]
    nightly = [package for trees in NIGHTLY_TREES.values() for _name, _root, package in trees]
    return [GO_PACKAGE, *sorted(crates), *sorted(nightly)]


def render(manifest: Manifest, where: Path) -> str:
    """A few lines for a person: files and MB per language."""
    totals = manifest.totals()
    lines = [f"{manifest.kind}: {_figures(totals['total'])} in {where} (seed {manifest.seed})"]
    lines += [f"  {language:<7}{_figures(totals[language])}" for language in manifest.languages()]
    return "\n".join(lines)


def _figures(total: Mapping[str, int]) -> str:
    return f"{total['files']:>6,} files {total['size_bytes'] / 1e6:>8.1f} MB"


# --- the profile --------------------------------------------------------------------------------


def _profile(kind: str, counts: Mapping[str, int] | None) -> dict[str, int] | None:
    if kind not in KINDS:
        raise ConfigError(f"unknown corpus kind {kind!r}: choose one of {', '.join(KINDS)}")
    if kind != "ts2-200":
        if counts is not None:
            raise ConfigError(f"file counts apply to ts2-200 only; {kind} takes every file")
        return None
    profile = dict(TS2_200_COUNTS if counts is None else counts)
    unknown = sorted(set(profile) - set(LANGUAGES))
    if unknown or not profile:
        raise ConfigError(f"corpus counts need languages among {', '.join(LANGUAGES)}, got {unknown}")
    if any(count < 1 for count in profile.values()):
        raise ConfigError(f"corpus counts must be 1 or more: {profile}")
    return profile


def _sample(kind: str, found: list[_Candidate], count: int, seed: int) -> list[_Candidate]:
    language = found[0].tree.language
    if len(found) < count:
        raise CorpusError(
            f"{language}: only {len(found)} {_SUFFIX[language]} files in {_roots(found)}, "
            f"{kind} needs {count}; install the full source or {_point_at(language)}"
        )
    return sorted(random.Random(seed).sample(found, count), key=_Candidate.sort_key)


# --- finding the sources ------------------------------------------------------------------------


def _source_root(language: str, override: Path | None) -> Path:
    explicit = override
    if explicit is not None:
        if not explicit.is_dir():
            raise CorpusError(f"{language}: {explicit} is not a directory; {_point_at(language)}")
        return explicit.resolve()
    defaults = _default_roots(language)
    for root in defaults:
        if root.is_dir():
            return root.resolve()
    places = " or ".join(str(root) for root in defaults)
    raise CorpusError(f"{language}: no source in {places}; {_install_hint(language)}{_point_at(language)}")


def _default_roots(language: str) -> tuple[Path, ...]:
    if language == "python":
        return (Path(sysconfig.get_paths()["stdlib"]),)
    return GO_SRC_DIRS if language == "go" else (RUST_REGISTRY_DIR,)


def _point_at(language: str) -> str:
    return f"point --{language}-src or {_env_name(language)} at {_WHAT[language]}"


def _env_name(language: str) -> str:
    return f"PARSEFLEET_CORPUS_{language.upper()}_SRC"


def _install_hint(language: str) -> str:
    if language == "python":
        return ""
    packages = [GO_PACKAGE] if language == "go" else sorted(f"librust-{_crate_key(name)}-dev" for name in CORPUS_CRATES)
    return f"install it (as root: apt-get install {' '.join(packages)}, or {INSTALL_SCRIPT}) or "


def _crate_key(name: str) -> str:
    return name.replace("_", "-").lower()


def _crate_trees(registry: Path, crates: Sequence[str]) -> list[SourceTree]:
    wanted = {_crate_key(name) for name in crates}
    try:
        entries = sorted(registry.iterdir())
    except OSError as exc:
        raise CorpusError(f"rust: cannot list {_reason(exc)}") from exc
    trees = [SourceTree("rust", entry.name, entry) for entry in entries if _is_wanted_crate(entry, wanted)]
    if not trees:
        raise CorpusError(
            f"rust: none of the crates {', '.join(crates)} in {registry}; {_install_hint('rust')}{_point_at('rust')}"
        )
    return trees


def _is_wanted_crate(entry: Path, wanted: set[str]) -> bool:
    match = _CRATE_DIR.fullmatch(entry.name)
    if match is None or _crate_key(match["name"]) not in wanted:
        return False
    return entry.is_dir() and not entry.is_symlink()


# --- finding the files --------------------------------------------------------------------------


def _candidates(language: str, trees: Sequence[SourceTree]) -> list[_Candidate]:
    try:
        found = [_Candidate(tree, path) for tree in trees for path in _walk(tree)]
    except OSError as exc:
        raise CorpusError(f"{language}: cannot read {_reason(exc)}") from exc
    if not found:
        roots = ", ".join(str(tree.root) for tree in trees)
        raise CorpusError(f"{language}: no {_SUFFIX[language]} files in {roots}; {_point_at(language)}")
    return sorted(found, key=_Candidate.sort_key)


def _roots(found: Sequence[_Candidate]) -> str:
    roots = sorted({str(candidate.tree.root) for candidate in found})
    return roots[0] if len(roots) == 1 else f"{len(roots)} trees under {Path(roots[0]).parent}"


def _walk(tree: SourceTree) -> Iterator[str]:
    def fail(error: OSError) -> None:
        raise error

    for directory, subdirs, files in os.walk(tree.root, onerror=fail, followlinks=False):
        base = Path(directory).relative_to(tree.root)
        subdirs[:] = [name for name in subdirs if _keep_dir(tree.language, base / name)]
        for name in sorted(files):
            if _keep_file(tree.language, Path(directory) / name):
                yield (base / name).as_posix()


def _keep_dir(language: str, relative: Path) -> bool:
    name = relative.name
    if name.startswith(".") or name in _SKIP_DIRS:
        return False
    if language == "python":
        return name not in _PYTHON_SKIP_DIRS and relative.as_posix() not in _PYTHON_SKIP_DIR_PATHS
    return True


def _keep_file(language: str, path: Path) -> bool:
    if path.suffix != _SUFFIX[language]:
        return False
    if language == "python" and any(fnmatch.fnmatch(path.name, pattern) for pattern in _PYTHON_SKIP_NAMES):
        return False
    if not stat.S_ISREG(path.lstat().st_mode):
        return False
    with path.open("rb") as handle:
        return not is_generated(handle.read(_GENERATED_HEAD_BYTES))


# --- writing ------------------------------------------------------------------------------------


def _write(head: Manifest, selection: Sequence[_Candidate], final: Path) -> Manifest:
    """Copy ``selection`` beside ``final``, write the manifest (``head`` plus files), swap it in."""
    staging = final.with_name(f".{final.name}.partial")
    try:
        _fresh_dir(staging)
        manifest = replace(head, files=tuple(_copy(candidate, staging) for candidate in selection))
        manifest.write(staging / MANIFEST_NAME)
        _swap(staging, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise CorpusError(f"{head.kind}: cannot build {final}: {_reason(exc)}") from exc
    return manifest


def _reason(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)


def _fresh_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _copy(candidate: _Candidate, staging: Path) -> ManifestEntry:
    tree = candidate.tree
    content = (tree.root / candidate.path).read_bytes()
    target = staging / tree.language / tree.source / candidate.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    return ManifestEntry(tree.language, tree.source, candidate.path, len(content), digest)


def _swap(staging: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


# --- command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m parsefleet.bench.corpus ts2-200|large``: 0 built, 2 cannot build, 130 interrupted."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configured = {
            "python": settings.corpus_python_src,
            "go": settings.corpus_go_src,
            "rust": settings.corpus_rust_src,
        }
        overrides = {language: getattr(args, f"{language}_src") or configured[language] for language in LANGUAGES}
        manifest = build(
            args.kind,
            args.out,
            args.seed,
            sources={language: path for language, path in overrides.items() if path is not None},
        )
    except KeyboardInterrupt:
        print("parsefleet corpus: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ParsefleetError as exc:
        print(f"parsefleet corpus: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(render(manifest, args.out / args.kind))
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m parsefleet.bench.corpus", description="Build a benchmark corpus and its manifest."
    )
    parser.add_argument(
        "kind",
        choices=KINDS,
        help="ts2-200: the 1,200-file profile; large: every file; nightly: what the nightly bench adds",
    )
    parser.add_argument("--out", type=Path, default=Path("corpus"), help="corpus root (default: ./corpus)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"selection seed ({DEFAULT_SEED})")
    for language in LANGUAGES:
        parser.add_argument(
            f"--{language}-src",
            type=Path,
            metavar="DIR",
            help=f"{_WHAT[language]} (env {_env_name(language)})",
        )
    return parser


if __name__ == "__main__":
    sys.exit(main())
