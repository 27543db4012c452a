"""What the console ships: Chart.js as the npm registry has it (its digest and licence beside it),
and pages that load nothing from another host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "parsefleet" / "console"
VENDOR = CONSOLE / "static" / "vendor"


def test_vendored_chart_js_is_the_recorded_build_with_its_licence() -> None:
    recorded = re.search(r"sha256\s+`([0-9a-f]{64})`", (VENDOR / "README.md").read_text())
    assert recorded is not None
    assert hashlib.sha256((VENDOR / "chart.umd.min.js").read_bytes()).hexdigest() == recorded.group(1)
    assert (VENDOR / "chart.umd.min.js").read_text().startswith("/*!\n * Chart.js v4.6.1\n")
    assert "MIT License" in (VENDOR / "chart.js-LICENSE.md").read_text()


def test_pages_and_scripts_load_only_from_this_origin() -> None:
    sources = [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("static/*.js"), *CONSOLE.glob("static/*.css")]
    assert len(sources) > 10
    external = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
    assert {path.name for path in sources if external.search(path.read_text())} == set()
    inline = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE)
    assert {path.name for path in sources if inline.search(path.read_text())} == set()  # CSP: no inline script
