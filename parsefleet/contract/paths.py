"""File names as parsefleet stores them, and as it shows them to a person.

A file name is bytes, and not every name is UTF-8. Two forms, both plain text:

- the stored form (``to_text``), in PostgreSQL, on the wire and in JSON output: the name itself
  when it is valid UTF-8 without a backslash (almost always), else the name with each backslash
  doubled and each byte that is not UTF-8 as ``\\xNN``. It is lossless: ``to_bytes`` gives the
  name back, and two different names never share a stored form (``b"caf\\xe9.py"`` is stored as
  ``caf\\xe9.py``, the name ``caf\\xe9.py`` as ``caf\\\\xe9.py``).
- the shown form (``printable``, ``shown``), for terminals and logs: as the stored form, and also
  every character that is not printable (``str.isprintable``: C0 and C1 controls, DEL, bidi
  overrides and other format characters, line separators, unassigned code points) as a visible
  escape, ``\\x1b`` below U+0080, ``\\u202e`` or ``\\U000e0001`` above. A name holding ESC, CR or
  LF cannot move the cursor, erase a line or start a new one.
"""

from __future__ import annotations

import os
import re

__all__ = ["printable", "shown", "to_bytes", "to_text"]

_STORED_ESCAPE = re.compile(r"\\(?:\\|x([89a-f][0-9a-f]))")
_SURROGATE_BYTE = range(0xDC80, 0xDD00)  # what surrogateescape makes of bytes 0x80..0xff


def to_text(name: str | bytes) -> str:
    """The stored form of ``name`` (bytes, or a str from ``os.fsdecode``)."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "surrogateescape")
    else:
        if "\\" not in text:
            return text
    return "".join(_stored_char(char) for char in text)


def to_bytes(text: str) -> bytes:
    """The name whose stored form is ``text``."""

    def byte(match: re.Match[str]) -> str:
        return "\\" if match.group(1) is None else chr(0xDC00 + int(match.group(1), 16))

    return _STORED_ESCAPE.sub(byte, text).encode("utf-8", "surrogateescape")


def printable(name: str | bytes) -> str:
    """``name`` (bytes, a str from ``os.fsdecode``, or any text) safe to print on a terminal or in a log."""
    text = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_shown_char(char) for char in text)


def shown(stored: str) -> str:
    """A stored name (``to_text``), safe to print on a terminal or in a log."""
    return printable(to_bytes(stored))


def _stored_char(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if ord(char) in _SURROGATE_BYTE:
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char


def _shown_char(char: str) -> str:
    code = ord(char)
    if char == "\\" or code in _SURROGATE_BYTE:
        return _stored_char(char)
    if char.isprintable():
        return char
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
