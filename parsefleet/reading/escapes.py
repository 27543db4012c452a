"""Names as a person reads them: file names and paths come from repositories we do not trust, so
control characters (a terminal's escape sequences, newlines, bidirectional overrides that reorder
what is shown) are written as visible escapes, ``\\x1b``, ``\\n``, ``\\u202e``, wherever a person
reads them: the CLI's text output and the console's pages (which HTML-escape as well)."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["CONTROL", "escape_control", "visible"]

# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(char: str) -> str:
    """The visible escape of one control character."""
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str, wrap: Callable[[str], str] | None = None) -> str:
    """``text`` with every control character escaped (each escape passed through ``wrap`` if given)."""
    if wrap is None:
        return CONTROL.sub(lambda match: escape_control(match.group()), text)
    return CONTROL.sub(lambda match: wrap(escape_control(match.group())), text)
