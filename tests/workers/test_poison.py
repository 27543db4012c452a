"""Splitting a poison batch and recording its last file as ``crash`` (pure functions)."""

from __future__ import annotations

import pytest

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.outline import FileStatus
from parsefleet.workers.poison import CRASH, crash_outcome, halves


def _batch(files: int) -> Batch:
    items = tuple(BatchFile(FileRef(1, f"f{i}.py", bytes([i]) * 20, "python", 3), b"x=1") for i in range(files))
    return Batch("run:000007", "run", "python", items)


def test_halves_keep_every_file_once_under_derived_ids() -> None:
    batch = _batch(5)
    first, second = halves(batch)
    assert (first.batch_id, second.batch_id) == ("run:000007.0", "run:000007.1")
    assert first.files + second.files == batch.files
    assert (len(first.files), len(second.files)) == (2, 3)
    assert {first.run_id, second.run_id, first.language} == {"run", "python"}


def test_a_single_file_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="nothing to split"):
        halves(_batch(1))


def test_crash_outcome_fails_the_file_without_an_outline() -> None:
    outcome = crash_outcome(_batch(1), deaths=2)
    assert outcome.count(FileStatus.FAILED) == 1 and outcome.symbols == 0
    (item,) = outcome.files
    assert item.failure_kind == CRASH == "crash"
    assert "died 2 times" in item.message
