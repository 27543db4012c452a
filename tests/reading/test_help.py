"""The readers' commands explain themselves."""

from __future__ import annotations

import subprocess

import pytest

from tests.reading.indexed import PARSEFLEET


@pytest.mark.parametrize("command", [["find"], ["outline"], ["tags"], ["serve"], ["db", "url"], ["db", "shell"]])
def test_every_reader_has_help(command: list[str]) -> None:
    done = subprocess.run([*PARSEFLEET, *command, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: parsefleet {' '.join(command)}")


def test_find_modes_exclude_each_other() -> None:
    done = subprocess.run(
        [*PARSEFLEET, "find", "x", "--exact", "--prefix"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
