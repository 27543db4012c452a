"""Reading a run's targets: arguments, then `--from` lines; bad lines kept with their line number."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from parsefleet.contract.errors import InputError, TargetNotFound
from parsefleet.producer.snapshot import Plan
from parsefleet.producer.targets import read_targets


def test_lines_after_arguments_with_comments_blanks_and_bad_lines(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    (tmp_path / "file.txt").write_text("x\n")
    text = b"# a comment\n\n  %s  \n%s\n%s\nbad\0name\n%s/./\n" % (
        bytes(tmp_path / "b"), bytes(tmp_path / "nowhere"), bytes(tmp_path / "file.txt"), bytes(tmp_path / "a"),
    )  # fmt: skip
    targets = read_targets([tmp_path / "a"], ["-"], stdin=io.BytesIO(text))
    got = [(t.ordinal, t.origin, t.bad) for t in targets]
    assert got == [
        (1, "argument 1", None),
        (2, "stdin:3", None),  # surrounding spaces stripped
        (3, "stdin:4", f"{tmp_path / 'nowhere'}: no such file or directory"),
        (4, "stdin:5", f"{tmp_path / 'file.txt'}: not a directory"),
        (5, "stdin:6", "contains a NUL byte"),
        (6, "stdin:7", f"{tmp_path / 'a'}: the same repository as argument 1"),  # a/./ is a
    ]


def test_strict_refuses_bad_lines_in_one_line_and_a_bad_argument_is_an_error(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{tmp_path / f'missing{n}'}\n" for n in range(5)))
    with pytest.raises(InputError) as caught:
        read_targets([], [str(listing)], strict=True)
    message = str(caught.value)
    assert message.startswith(f"5 bad target lines under --strict: {listing}:1: ") and message.endswith("(and 2 more)")
    assert "\n" not in message
    with pytest.raises(TargetNotFound):
        read_targets([tmp_path / "missing"])
    with pytest.raises(InputError) as missing:
        read_targets([], [str(tmp_path / "nothing.txt")])
    assert str(missing.value) == f"--from {tmp_path / 'nothing.txt'}: No such file or directory"


def test_lines_end_at_lf_alone_and_crlf_lists_are_read_as_lf(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    text = b"%s\r\n%s/\x1b[2Jx\rfailed timeout: y\n" % (bytes(tmp_path / "a"), bytes(tmp_path))
    targets = read_targets([], ["-"], stdin=io.BytesIO(text))
    assert [(t.origin, t.bad) for t in targets] == [
        ("stdin:1", None),
        ("stdin:2", f"{tmp_path}/\\x1b[2Jx\\x0dfailed timeout: y: no such file or directory"),  # shown escaped
    ]


def test_a_plan_is_stored_and_read_back_as_it_was() -> None:
    plans = [
        Plan("pinned", "0" * 40, None),
        Plan("/srv/repo", "1" * 40, 7),
        Plan("named", None, None),
        Plan("/srv/reindexed", None, None, refresh=True),
    ]
    stored = json.loads(json.dumps([plan.stored() for plan in plans]))  # as jsonb keeps it
    assert [Plan.from_stored(value) for value in stored] == plans
    assert Plan.from_stored(None) is None  # a streamed target's


def test_a_stored_plan_whose_commit_is_no_commit_id_is_refused() -> None:
    with pytest.raises(InputError, match="no commit id"):
        Plan.from_stored({"name": "x", "commit": "--output=/tmp/owned", "history_left": None})
