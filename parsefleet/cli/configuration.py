"""``parsefleet config``: every setting, its variable, default, value and meaning, from ``Settings``.

The meaning is the comment above each field of ``parsefleet.contract.settings.Settings`` (where
every default is documented), so this table cannot drift from the code; docs/configuration.md is
its Markdown form, and a test checks that the file is what this module prints.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import MISSING, dataclass, fields

from parsefleet.contract.settings import Settings
from parsefleet.plumbing.redaction import shown_url

__all__ = ["SettingDoc", "describe", "markdown", "render"]

_FIELD = re.compile(r"^\s{4}(\w+): ")
_COMMENT = re.compile(r"^\s{4}# ?(.*)$")
_NAMES = re.compile(r"^((?:PARSEFLEET_\w+(?:, )?)+): ")
_URLS = ("redis_url", "database_url")
_SECRETS = ("serve_token",)  # shown as set or not, never their value


@dataclass(frozen=True, slots=True)
class SettingDoc:
    """One setting as a person reads it."""

    name: str
    variable: str
    default: str
    value: str
    meaning: str


def describe(settings: Settings | None = None) -> list[SettingDoc]:
    """Every field of Settings, in order; ``value`` from ``settings`` when given (URLs without secrets)."""
    meanings = _meanings()
    defaults = {spec.name: _default(spec.name) for spec in fields(Settings)}
    found = []
    for spec in fields(Settings):
        value = "" if settings is None else _shown(spec.name, getattr(settings, spec.name))
        variable = f"PARSEFLEET_{spec.name.upper()}"
        found.append(SettingDoc(spec.name, variable, defaults[spec.name], value, meanings.get(spec.name, "")))
    return found


def render(settings: Settings) -> str:
    """The settings in effect, one a line."""
    return "\n".join(f"{item.variable:<34} {item.value}" for item in describe(settings))


def markdown() -> str:
    """docs/configuration.md."""
    lines = [
        "# Configuration",
        "",
        "Every setting of parsefleet, read from the environment (`PARSEFLEET_<NAME>`); the flags",
        "`--redis-url`, `--database-url` and `--data-dir` override the first three. `parsefleet config`",
        "prints the values in effect (URLs without their passwords). This page is generated from the",
        "settings' definitions (`parsefleet config --markdown`); a test keeps it so.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for item in describe():
        meaning = item.meaning.replace("|", "\\|")
        lines.append(f"| `{item.variable}` | {item.default} | {meaning} |")
    return "\n".join(lines) + "\n"


def _meanings() -> dict[str, str]:
    """The comment block above each field, without its leading variable names."""
    meanings: dict[str, str] = {}
    block: list[str] = []
    after_field = False
    for line in inspect.getsource(Settings).splitlines():
        comment, field = _COMMENT.match(line), _FIELD.match(line)
        if comment:
            block = [] if after_field else block
            block.append(comment.group(1))
            after_field = False
        elif field and block:  # fields right after one another share the comment above them
            meanings[field.group(1)] = _NAMES.sub("", " ".join(block)).strip()
            after_field = True
        elif not line.strip():
            block, after_field = [], False
    return meanings


def _default(name: str) -> str:
    spec = next(spec for spec in fields(Settings) if spec.name == name)
    if name == "data_dir":
        return "`~/.local/share/parsefleet` (root: `/var/lib/parsefleet`)"
    if name == "cache_dir":
        return "`~/.cache/parsefleet`"
    if name in _URLS:
        return "embedded"
    value = spec.default if spec.default is not MISSING else None
    if value == "":
        return "empty"
    return "none" if value is None else f"`{value}`"


def _shown(name: str, value: object) -> str:
    if name in _SECRETS:
        return "(set)" if value else "(not set)"
    if value is None:
        return "(embedded)" if name in _URLS else "(none)"
    if name in _URLS:
        return shown_url(str(value))
    return str(value)
