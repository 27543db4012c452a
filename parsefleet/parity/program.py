"""Reference outliners that are programs: Go's on ``go/parser``, Rust's on ``syn``.

Their sources are committed beside this module (``reference/go/outline.go``,
``reference/rust/src/main.rs``). Each takes file paths as arguments and prints one JSON line per
file, in order: ``{"path", "symbols", "imports"}`` with the fields of ``parsefleet.contract.outline``, or
``{"path", "error": {"line", "message"}}`` when its parser rejects the file.

Building: the first use copies the sources to ``<cache_dir>/reference/<language>-<key>/`` and
builds them there, offline; ``key`` is a digest of the sources and of the toolchain's version, so
an edited source or another toolchain builds again and anything else reuses the binary. A lock
file serialises concurrent builds; nothing is written into the source tree.

Running: files go to the program ``CHUNK_FILES`` at a time, and its output is read as it comes,
so the program parses ahead while the caller works on earlier files. When the program dies on a
file (a crash, a stack overflow), that file is reported as failed and the program starts again
after it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from parsefleet.contract.errors import ReferenceUnavailable
from parsefleet.contract.outline import Import, ImportOrigin, Outline, Symbol, SymbolKind, Visibility
from parsefleet.contract.settings import Settings

__all__ = [
    "CHUNK_FILES",
    "REFERENCE_SOURCES",
    "Build",
    "ReferenceFailure",
    "ReferenceProgram",
    "find_tool",
    "tool_version",
]

log = logging.getLogger(__name__)

REFERENCE_SOURCES = Path(__file__).parent / "reference"
CHUNK_FILES = 500  # files per program run (argument lists stay far below ARG_MAX)
BUILD_TIMEOUT_S = 900.0
# what a build by hand leaves in a source directory: neither copied nor part of the digest
_BUILD_LEFTOVERS = ("target", "Cargo.lock")
_BUILD_LEFTOVERS_SET = frozenset(_BUILD_LEFTOVERS)
VERSION_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class ReferenceFailure:
    """A reference parser rejected one file: its first error, and the 1-based line of it."""

    detail: str
    line: int = 1


@dataclass(frozen=True, slots=True)
class Build:
    """How to build a program: the command, its extra environment, and where the binary lands."""

    argv: list[str]
    env: dict[str, str]
    output: Path


def find_tool(command: str, fallback_dirs: Sequence[Path] = ()) -> str | None:
    """``command`` as given (a path) or found on PATH, else in ``fallback_dirs``; None when absent."""
    found = shutil.which(command)
    if found is not None or os.sep in command:
        return found
    for directory in fallback_dirs:
        candidate = shutil.which(command, path=str(directory))
        if candidate is not None:
            return candidate
    return None


class ReferenceProgram(ABC):
    """A reference outliner built from committed source; ``outlines`` runs it on many files."""

    language: ClassVar[str]
    suffix: ClassVar[str]  # of a file that holds content given as bytes
    source_dir: ClassVar[Path]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._binary: Path | None = None
        self._version = ""

    @property
    def name(self) -> str:
        """The parser and the toolchain that built it (after ``binary``)."""
        return f"{self.parser_name} ({self._version})" if self._version else self.parser_name

    @property
    @abstractmethod
    def parser_name(self) -> str:
        """The parser the program uses, e.g. ``go/parser``."""

    @abstractmethod
    def toolchain(self) -> tuple[str, str]:
        """The build tool's path and a version string; raise ReferenceUnavailable when it is missing."""

    @abstractmethod
    def build(self, tool: str, source: Path, build_dir: Path) -> Build:
        """The build of the sources copied to ``source``; outputs stay under ``build_dir``."""

    def cache_key(self) -> str:
        """What else a build depends on (beside the sources and the toolchain's version)."""
        return ""

    # --- building ------------------------------------------------------------------------------

    def binary(self) -> Path:
        """The built program, building it on first use; ReferenceUnavailable when that fails."""
        if self._binary is None:
            tool, self._version = self.toolchain()
            home = self.settings.cache_dir / "reference"
            build_dir = home / f"{self.language}-{_digest(self.source_dir, self._version + self.cache_key())}"
            if not (build_dir / "outline").is_file():
                try:
                    self._build(tool, home, build_dir)
                except OSError as exc:
                    raise ReferenceUnavailable(f"building the {self.parser_name} reference failed: {exc}") from exc
            self._binary = build_dir / "outline"
        return self._binary

    def _build(self, tool: str, home: Path, build_dir: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        with _locked(home / f"{self.language}.lock"):
            binary = build_dir / "outline"
            if binary.is_file():  # built by another process meanwhile
                return
            source = build_dir / "source"
            shutil.rmtree(source, ignore_errors=True)
            shutil.copytree(self.source_dir, source, ignore=shutil.ignore_patterns(*_BUILD_LEFTOVERS))
            build = self.build(tool, source, build_dir)
            started = time.perf_counter()
            _run_build(build, source, self.parser_name)
            shutil.copy2(build.output, binary.with_suffix(".tmp"))
            binary.with_suffix(".tmp").replace(binary)
            log.info("built the %s reference in %.1f s: %s", self.language, time.perf_counter() - started, binary)

    # --- running -------------------------------------------------------------------------------

    def outline(self, content: bytes) -> Outline | ReferenceFailure:
        """The outline of one file given as bytes."""
        with tempfile.TemporaryDirectory(prefix="parsefleet-reference-") as directory:
            path = Path(directory) / f"input{self.suffix}"
            path.write_bytes(content)
            (result,) = self.outlines([path])
        return result

    def outlines(self, paths: Sequence[Path]) -> Iterator[Outline | ReferenceFailure]:
        """One result per path, in order, read while the program runs."""
        binary = self.binary()
        start = 0
        while start < len(paths):
            chunk = paths[start : start + CHUNK_FILES]
            for result in self._run(binary, chunk):
                yield result
                start += 1

    def _run(self, binary: Path, chunk: Sequence[Path]) -> Iterator[Outline | ReferenceFailure]:
        """Results of one run; when the program dies early, a failure for the file it was on, and stop."""
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen([str(binary), *map(str, chunk)], stdout=subprocess.PIPE, stderr=errors)
            except OSError as exc:
                raise ReferenceUnavailable(f"cannot run {binary}: {exc}") from exc
            done = 0
            try:
                for line in _lines(process.stdout):
                    yield self._decode(line, chunk[done])
                    done += 1
            finally:
                if process.poll() is None:  # the caller stopped early
                    process.kill()
                code = process.wait()
            if done < len(chunk):
                yield ReferenceFailure(f"{self.parser_name} died (exit code {code}): {_last_line(errors)}")

    def _decode(self, line: bytes, path: Path) -> Outline | ReferenceFailure:
        try:
            data = json.loads(line)
            if data["path"] != str(path):
                raise ValueError(f"expected {path}, got {data['path']}")
            error = data.get("error")
            if error is not None:
                return ReferenceFailure(str(error["message"]), max(int(error["line"]), 1))
            return Outline(
                language=self.language,
                symbols=tuple(_symbol(item) for item in data["symbols"]),
                imports=tuple(_import(item) for item in data["imports"]),
                unexpanded_macros=int(data.get("unexpanded_macros", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ReferenceUnavailable(f"the {self.language} reference printed what we cannot read: {exc}") from exc


def _lines(stream: IO[bytes] | None) -> Iterator[bytes]:
    if stream is not None:
        yield from stream


def _last_line(stream: IO[bytes]) -> str:
    stream.seek(0)
    lines = stream.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "no message"


def _symbol(item: dict[str, Any]) -> Symbol:
    parent = item["parent"]
    return Symbol(
        kind=SymbolKind(item["kind"]),
        name=str(item["name"]),
        qualified_name=str(item["qualified_name"]),
        parent=None if parent is None else int(parent),
        start_line=int(item["start_line"]),
        end_line=int(item["end_line"]),
        start_byte=int(item["start_byte"]),
        end_byte=int(item["end_byte"]),
        visibility=Visibility(item["visibility"]),
        from_macro=bool(item.get("from_macro", False)),
    )


def _import(item: dict[str, Any]) -> Import:
    name, alias = item["name"], item["alias"]
    return Import(
        module=str(item["module"]),
        name=None if name is None else str(name),
        alias=None if alias is None else str(alias),
        origin=ImportOrigin(item["origin"]),
        line=int(item["line"]),
    )


def _digest(source_dir: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode())
    for path in sorted(source_dir.rglob("*")):
        if path.is_file() and not _BUILD_LEFTOVERS_SET.intersection(path.relative_to(source_dir).parts):
            digest.update(str(path.relative_to(source_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_build(build: Build, source: Path, what: str) -> None:
    try:
        done = subprocess.run(
            build.argv,
            cwd=source,
            env={**os.environ, **build.env},
            capture_output=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReferenceUnavailable(f"building the {what} reference failed: {exc}") from exc
    if done.returncode != 0 or not build.output.is_file():
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        reason = next((line for line in output if "error" in line.lower()), output[-1] if output else "no output")
        raise ReferenceUnavailable(f"building the {what} reference failed ({' '.join(build.argv[:2])}): {reason}")


def tool_version(argv: Sequence[str]) -> str:
    """The first line a ``--version``-like command prints; ReferenceUnavailable when it fails."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=VERSION_TIMEOUT_S, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ReferenceUnavailable(f"{' '.join(argv)} failed: {exc}") from exc
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else ""
