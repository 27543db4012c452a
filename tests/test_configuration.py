"""The settings table: generated from Settings, so docs/configuration.md cannot drift."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from parsefleet.cli.configuration import describe, markdown
from parsefleet.contract.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_docs_configuration_is_the_generated_table() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == markdown(), (
        "docs/configuration.md is stale: run `.venv/bin/parsefleet config --markdown > docs/configuration.md`"
    )


def test_every_setting_is_documented_where_it_is_defined() -> None:
    documented = {item.name: item.meaning for item in describe()}
    assert set(documented) == {spec.name for spec in fields(Settings)}
    assert {name for name, meaning in documented.items() if len(meaning) < 20} == set()


def test_config_shows_the_values_in_effect_without_secrets() -> None:
    env = {"PATH": "/usr/bin:/bin", "PARSEFLEET_BATCH_MAX_BYTES": "4096"}
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", "config", "--database-url", "postgresql://app:s3c?ret@db/x"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "s3c" not in done.stdout and "ret@" not in done.stdout
    assert "PARSEFLEET_BATCH_MAX_BYTES" in done.stdout and " 4096" in done.stdout
