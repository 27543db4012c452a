"""Stored file names are lossless; shown file names cannot steer a terminal."""

from __future__ import annotations

import os

import pytest

from parsefleet.contract.paths import printable, shown, to_bytes, to_text

_NAMES = [
    b"plain.py",
    "ünïcødé 名前.go".encode(),
    b"caf\xe9.py",  # latin-1, not UTF-8
    b"caf\\xe9.py",  # its look-alike, literally
    b"back\\slash.rs",
    b"\\\\x80\\.py",
    b"esc\x1b[2K\rfailed timeout: x.py",
    "\u202egnp.py".encode(),
    b"\xff\xfe\x80.py",
    b"c1 \xc2\x85 next line.py",
]


@pytest.mark.parametrize("name", _NAMES)
def test_the_stored_form_gives_the_name_back(name: bytes) -> None:
    assert to_bytes(to_text(name)) == name
    assert to_text(os.fsdecode(name)) == to_text(name)
    to_text(name).encode("utf-8")  # storable: valid UTF-8, no surrogate


def test_two_names_never_share_a_stored_or_a_shown_form() -> None:
    assert len({to_text(name) for name in _NAMES}) == len(_NAMES)
    assert len({printable(name) for name in _NAMES}) == len(_NAMES)
    assert to_text(b"caf\xe9.py") == "caf\\xe9.py"
    assert to_text(b"caf\\xe9.py") == "caf\\\\xe9.py"


def test_a_utf8_name_without_backslash_is_stored_as_itself() -> None:
    for name in ("plain.py", "ünïcødé 名前.go", "esc\x1b[2K\r.py", "\u202egnp.py"):
        assert to_text(name) == name


def test_the_shown_form_has_no_control_or_bidi_character() -> None:
    assert printable("esc\x1b[2K\rfailed timeout: x.py") == "esc\\x1b[2K\\rfailed timeout: x.py".replace("\\r", "\\x0d")
    assert printable("line\nbreak\x7f.py") == "line\\x0abreak\\x7f.py"
    assert printable("\u202egnp.py") == "\\u202egnp.py"
    assert printable("c1 \x85 next.py") == "c1 \\u0085 next.py"
    assert printable(b"caf\xe9.py") == "caf\\xe9.py"
    assert printable("back\\slash") == "back\\\\slash"
    assert printable("ünïcødé 名前.go") == "ünïcødé 名前.go"
    for name in _NAMES:
        assert printable(name).isprintable()


def test_shown_reads_the_stored_form() -> None:
    for name in _NAMES:
        assert shown(to_text(name)) == printable(name)
