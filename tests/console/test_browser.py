"""The console in a real browser (Debian's headless Chromium): every page loads, a search as you
type finds a definition a real run stored and leads to its outline, a run's progress advances on
its page while a worker parses, the charts are drawn, and hostile file names stay inert."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from parsefleet.cli import commands
from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers
from tests.console.serving import console
from tests.reading.indexed import index
from tests.services import wait_until

pytestmark = pytest.mark.service

_FILES = 50  # under max_pending_batches (64): the producer sends every batch before a worker runs
_PAGES = ("/", "/runs", "/runs/latest", "/fleet", "/charts", "/api-docs")


def _shot(browser: webdriver.Chrome, screenshots: Path, name: str) -> Path:
    path = screenshots / f"{name}.png"
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 1000
    return path


def _text(browser: webdriver.Chrome, selector: str) -> str:
    found = browser.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def test_every_page_loads_and_a_search_leads_to_the_outline(
    settings: Settings, worker: LocalWorkers, repo: Path, browser: webdriver.Chrome, screenshots: Path
) -> None:
    report = index(settings, repo)
    with console(settings) as served:
        base = served.url.rstrip("/")
        for page in _PAGES:
            browser.get(base + page)
            assert browser.find_element(By.CSS_SELECTOR, "nav .brand").text == "parsefleet", page
            assert "Internal Server Error" not in browser.page_source
            _shot(browser, screenshots, page.strip("/").replace("/", "-") or "search")
        browser.get(base + "/runs")
        assert [link.text for link in browser.find_elements(By.CSS_SELECTOR, "tr.run a")] == [report.state.run_id]

        browser.get(base + "/")
        box = browser.find_element(By.ID, "q")
        box.send_keys("invent")
        wait_until(lambda: _text(browser, ".results a.name") == "Inventory", "results as you type")
        _shot(browser, screenshots, "search-results")
        assert "q=invent" in browser.current_url
        browser.find_element(By.CSS_SELECTOR, ".results a.name").click()
        wait_until(lambda: "python/inventory.py" in _text(browser, "h1"), "the outline page")
        symbols = browser.find_elements(By.CSS_SELECTOR, "li.symbol")
        inventory = next(item for item in symbols if item.find_element(By.TAG_NAME, "b").text == "Inventory")
        nested = [b.text for b in inventory.find_elements(By.XPATH, "./ul/li/b")]
        assert nested[:2] == ["lookup", "_cached"]
        origins = {
            row.find_elements(By.TAG_NAME, "td")[3].text for row in browser.find_elements(By.CSS_SELECTOR, "tr.import")
        }
        assert origins == {"stdlib", "third_party", "local"}
        _shot(browser, screenshots, "outline")

        browser.get(base + "/runs/" + report.state.run_id)
        languages = {
            row.get_attribute("data-language") for row in browser.find_elements(By.CSS_SELECTOR, "tr.language")
        }
        assert languages == {"python", "go", "rust"}
        assert "finished" in _text(browser, "#run-state")


def test_a_runs_progress_advances_on_its_page(
    settings: Settings, repo: Path, tmp_path: Path, browser: webdriver.Chrome, screenshots: Path
) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for number in range(_FILES):
        (many / f"module_{number:03}.py").write_text(f"def function_{number}():\n    return {number}\n" * 40)
    small_batches = replace(settings, batch_max_bytes=1024)  # a batch per file
    report = commands.submit(small_batches, [many], commands.RunOptions(ci=False, progress=False, wait=False))
    run_id = report.state.run_id
    with console(settings) as served:
        browser.get(served.url.rstrip("/") + "/runs/" + run_id)
        assert _text(browser, "#run-files") == f"0 of {_FILES} files"
        _shot(browser, screenshots, "run-waiting")
        seen: list[int] = []

        def done_files() -> int:  # read in one script: the page may re-render the bar between two calls
            found = browser.execute_script(
                "const bar = document.querySelector('#run .progress'); return bar ? bar.dataset.filesDone : null"
            )
            value = int(found or 0)
            if not seen or seen[-1] != value:
                seen.append(value)
            return value

        assert settings.redis_url and settings.database_url
        # a worker held to 10% of a CPU by its governor: the run takes seconds, the page polls each second
        slow = {"PARSEFLEET_CPU_LIMIT_PCT": "10", "PARSEFLEET_WORKER_CONCURRENCY": "1"}
        fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1, env=slow)
        fleet.start()
        try:
            wait_until(
                lambda: done_files() == _FILES and "finished" in _text(browser, "#run-state"), "the run finishing", 180
            )
        finally:
            fleet.stop()
        _shot(browser, screenshots, "run-finished")
    assert seen[0] == 0 and seen[-1] == _FILES and seen == sorted(seen), seen
    assert len(seen) >= 3, f"no step between none and all: {seen}"
    print(f"progress seen on the page: {seen}")


def _drawn_pixels(browser: webdriver.Chrome, canvas: WebElement) -> int:
    script = (
        "const c = arguments[0]; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n;"
    )
    return int(browser.execute_script(script, canvas))


def test_charts_are_drawn_from_the_measurements(
    settings: Settings, repo: Path, tmp_path: Path, browser: webdriver.Chrome, screenshots: Path
) -> None:
    """A run with a worker whose parse deadline no large file meets: batch latencies and timeouts."""
    (repo / "python" / "large.py").write_text("def f():\n    return [1, 2, 3]\n" * 8000)  # over 64 KiB: watched
    assert settings.redis_url and settings.database_url
    env = {"PARSEFLEET_PARSE_TIMEOUT_S": "0.0001"}
    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1, env=env)
    fleet.start()
    try:
        report = index(settings, repo)
    finally:
        fleet.stop()
    assert ("python", "timeout") in {(language, kind) for language, kind, _path, _msg in report.failed_files}
    with console(settings) as served:
        browser.get(served.url.rstrip("/") + "/charts?window=1h")
        canvases = browser.find_elements(By.CSS_SELECTOR, "canvas[data-chart]")
        assert len(canvases) == 2
        wait_until(lambda: all(c.get_attribute("data-drawn") == "true" for c in canvases), "Chart.js drawing")
        assert all(_drawn_pixels(browser, canvas) > 500 for canvas in canvases)
        assert browser.execute_script("return typeof Chart") == "function"
        _shot(browser, screenshots, "charts")


def test_hostile_file_names_are_escaped_and_shown(
    settings: Settings, worker: LocalWorkers, tmp_path: Path, browser: webdriver.Chrome, screenshots: Path
) -> None:
    hostile = tmp_path / "hostile-names"
    hostile.mkdir()
    name = "esc\x1b[31m<img src=x onerror=alert(1)>\u202eyp.py"
    (hostile / name).write_text("def marker_in_hostile_file():\n    pass\n")
    index(settings, hostile)
    with console(settings) as served:
        browser.get(served.url.rstrip("/") + "/?q=marker_in_hostile")
        cell = browser.find_element(By.CSS_SELECTOR, ".results td.path b")
        assert cell.text == "esc\\x1b[31m<img src=x onerror=alert(1)>\\u202eyp.py"
        assert [c.text for c in cell.find_elements(By.CSS_SELECTOR, "span.control")] == ["\\x1b", "\\u202e"]
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        _shot(browser, screenshots, "hostile-search")
        cell.find_element(By.XPATH, "../..").find_element(By.CSS_SELECTOR, "a.name").click()
        wait_until(lambda: "marker_in_hostile_file" in browser.page_source, "the outline of the hostile file")
        assert (
            browser.find_element(By.CSS_SELECTOR, "h1.path").text
            == "esc\\x1b[31m<img src=x onerror=alert(1)>\\u202eyp.py"
        )
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        _shot(browser, screenshots, "hostile-outline")
