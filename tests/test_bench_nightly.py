"""``parsefleet bench --profile nightly`` on the tiny stand-in corpus, through real processes: the
figures are there, and what the profile checks holds (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsefleet.bench.nightly import render, run_nightly
from parsefleet.contract.settings import Settings

pytestmark = pytest.mark.service


def test_nightly_profile_sends_only_the_changed_files_and_the_view_follows(settings: Settings, tmp_path: Path) -> None:
    result = run_nightly(settings, tmp_path / "no-corpus")  # no corpus built: the tiny stand-in
    assert result.files > 20 and result.changed >= 1 and result.deleted >= 1 and result.renamed >= 1
    assert result.unchanged_sent == 0
    assert result.incremental_sent == result.changed  # the renamed files' blobs were known
    assert result.view_matches and result.checks_hold
    assert result.full_s > 0 and result.incremental_s > 0 and result.unchanged_producer_s > 0
    text = render(result)
    assert "nothing changed, producer time" in text and "matches the commit's tree" in text
    assert "exactly the changed blobs sent" in text
