"""Peers on the same files, when installed: universal-ctags and ast-grep. Files per CPU-second, and
for Python how many of CPython ``ast``'s definitions each finds with the right qualified name and
line (parsefleet's own adapter measured the same way).

The reference: every ``def``, ``async def`` and ``class`` that ``ast`` finds, named by the dotted
names of the definitions around it (``Outer.method.inner``), at the line of its ``def``/``class``
keyword. ctags names a definition by its ``scope:`` field (``--fields=+nKZe``); ast-grep's kind
rule matches the definition nodes and says nothing of their scope, so its name is the bare name
(right for top-level definitions only).
"""

from __future__ import annotations

import ast
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import BenchFile
from parsefleet.contract.outline import SymbolKind
from parsefleet.workers.languages import adapter_for, load_adapters
from parsefleet.workers.limits import ParseBudget

__all__ = ["AST_GREP_RULES", "ast_definitions", "peers", "recall"]

Definition = tuple[str, int]  # qualified name, 1-based line
_TIMEOUT_S = 600
_DEFINITION_KINDS = frozenset({SymbolKind.CLASS, SymbolKind.FUNCTION, SymbolKind.METHOD})
# ast-grep's rules: one kind rule per language over its definition node kinds.
AST_GREP_RULES = {
    "python": ("function_definition", "class_definition"),
    "go": ("function_declaration", "method_declaration", "type_spec"),
    "rust": ("function_item", "struct_item", "enum_item", "union_item", "trait_item", "impl_item", "mod_item",
             "type_item", "const_item", "static_item", "macro_definition"),
}  # fmt: skip
_PY_NAME = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")
_AST_GREP_NO_IGNORE = ("hidden", "dot", "exclude", "global", "parent", "vcs")
_CTAGS_LANGUAGES = {"python": "Python", "go": "Go", "rust": "Rust"}


def ast_definitions(content: bytes) -> set[Definition] | None:
    """CPython ast's definitions of one file; None when ast rejects it."""
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return set(_walk(tree, ""))


def _walk(node: ast.AST, prefix: str) -> Iterator[Definition]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            yield name, child.lineno
            yield from _walk(child, name + ".")
        else:
            yield from _walk(child, prefix)


def recall(reference: dict[Path, set[Definition]], found: dict[Path, set[Definition]]) -> float:
    """Share of the reference's definitions found with the same qualified name and line."""
    total = sum(len(defs) for defs in reference.values())
    hits = sum(len(defs & found.get(path, set())) for path, defs in reference.items())
    return hits / total if total else 0.0


def peers(files: Sequence[BenchFile], target: Path) -> dict[str, Any]:
    """Each installed peer's figures on ``target`` (the files of ``files``), and parsefleet's recall."""
    python = [f for f in files if f.language == "python"]
    reference = {f.path.resolve(): defs for f in python if (defs := ast_definitions(f.content)) is not None}
    out: dict[str, Any] = {
        "python_definitions": sum(len(defs) for defs in reference.values()),
        "python_files": len(reference),
        "parsefleet": {"python_recall": recall(reference, _parsefleet_found(python))},
    }
    counted = {f.language for f in files}
    if shutil.which("ctags"):
        out["ctags"] = _ctags(target, counted, len(files), reference)
    ast_grep = _ast_grep_program()
    if ast_grep is not None:
        out["ast-grep"] = _ast_grep(ast_grep, target, counted, len(files), reference)
    return out


def _parsefleet_found(python: Sequence[BenchFile]) -> dict[Path, set[Definition]]:
    load_adapters()
    adapter = adapter_for("python")
    found = {}
    for item in python:
        outline = adapter.outline(item.content, ParseBudget(60.0))
        found[item.path.resolve()] = {
            (symbol.qualified_name, symbol.start_line) for symbol in outline.symbols if symbol.kind in _DEFINITION_KINDS
        }
    return found


def _timed(command: list[str]) -> tuple[str, float]:
    """The command's output and the CPU seconds it (and its threads) used. Neither tool's file names
    nor source text need be UTF-8."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, timeout=_TIMEOUT_S, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout.decode("utf-8", "surrogateescape"), cpu_s  # file names as os.fsdecode gives them


def _ctags(target: Path, languages: set[str], files: int, reference: dict[Path, set[Definition]]) -> dict[str, Any]:
    chosen = ",".join(_CTAGS_LANGUAGES[lang] for lang in sorted(languages))
    version = subprocess.run(["ctags", "--version"], capture_output=True, text=True, check=False).stdout
    output, cpu_s = _timed(["ctags", "-R", "--fields=+nKZe", f"--languages={chosen}", "-f", "-", str(target)])
    found: dict[Path, set[Definition]] = {}
    for line in output.splitlines():
        entry = _ctags_entry(line)
        if entry is not None:
            found.setdefault(entry[0], set()).add(entry[1])
    return {
        "version": version.splitlines()[0] if version else "",
        "cpu_s": cpu_s,
        "files_per_cpu_s": files / cpu_s if cpu_s else None,
        "python_recall": recall(reference, found),
    }


def _ctags_entry(line: str) -> tuple[Path, Definition] | None:
    """(file, definition) of one Python tag line (name, file, pattern, then key:value fields)."""
    parts = line.split("\t")
    if len(parts) < 4 or line.startswith("!_") or not parts[1].endswith(".py"):
        return None
    extra = dict(field.split(":", 1) for field in parts[3:] if ":" in field)
    if "line" not in extra or not extra["line"].isdigit():
        return None
    scope = extra.get("scope", "")
    qualified = f"{scope.split(':', 1)[1]}.{parts[0]}" if ":" in scope else parts[0]
    return Path(parts[1]).resolve(), (qualified, int(extra["line"]))


def _ast_grep_program() -> str | None:
    """ast-grep beside this Python (the dev extra's ``ast-grep-cli``), else on PATH."""
    beside = Path(sys.executable).parent / "ast-grep"
    return str(beside) if beside.is_file() else shutil.which("ast-grep")


def _ast_grep(
    program: str, target: Path, languages: set[str], files: int, reference: dict[Path, set[Definition]]
) -> dict[str, Any]:
    rules = "\n---\n".join(
        json.dumps({"id": f"definitions-{lang}", "language": lang, "rule": {"any": [{"kind": k} for k in kinds]}})
        for lang, kinds in AST_GREP_RULES.items()
        if lang in languages
    )
    version = subprocess.run([program, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="parsefleet-ast-grep-") as rule_file:
        rule_file.write(rules)
        rule_file.flush()
        no_ignore = [arg for kind in _AST_GREP_NO_IGNORE for arg in ("--no-ignore", kind)]  # every file, as ctags
        output, cpu_s = _timed([program, "scan", *no_ignore, "--rule", rule_file.name, "--json=stream", str(target)])
    found: dict[Path, set[Definition]] = {}
    for line in output.splitlines():
        match = json.loads(line)
        name = _PY_NAME.match(match.get("text", "")) if str(match.get("file", "")).endswith(".py") else None
        if name is not None:
            found.setdefault(Path(match["file"]).resolve(), set()).add(
                (name.group(1), int(match["range"]["start"]["line"]) + 1)
            )
    return {
        "version": version,
        "cpu_s": cpu_s,
        "files_per_cpu_s": files / cpu_s if cpu_s else None,
        "python_recall": recall(reference, found),
    }
