"""The console as a stranger meets it, over plain HTTP: loopback unless a token is set, 401 for a
wrong token, read-only, 404 outside its routes, hostile query strings, no secret in any reply."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers
from tests.console.serving import console
from tests.reading.indexed import PARSEFLEET, cli, cli_env, index

pytestmark = pytest.mark.service

TOKEN = "s3cret-token-for-the-console-tests"


def test_a_non_loopback_bind_without_a_token_is_refused(settings: Settings) -> None:
    for host in ("0.0.0.0", "::"):
        done = cli(settings, "serve", "--host", host, "--port", "0")
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"parsefleet: error: refusing to serve on {host}, which is not loopback, without a token: set "
            "PARSEFLEET_SERVE_TOKEN (16 characters or more) or bind to 127.0.0.1"
        ]
        assert done.stdout == ""


def test_a_short_token_is_refused(settings: Settings) -> None:
    env = {**cli_env(settings), "PARSEFLEET_SERVE_TOKEN": "short"}
    done = subprocess.run(
        [*PARSEFLEET, "serve", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "too short" in done.stderr and "short\n" not in done.stderr


def test_with_a_token_every_request_needs_it(settings: Settings) -> None:
    with console(settings, "--host", "0.0.0.0", env={"PARSEFLEET_SERVE_TOKEN": TOKEN}) as served:
        basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
        wrong = base64.b64encode(b"anyone:not-the-token-at-all-12345").decode()
        for target in ("/", "/api/status", "/static/console.css", "/api/openapi.json", "/nope"):
            refused = [
                served.get(target),
                served.get(target, {"Authorization": "Bearer not-the-token-at-all-12345"}),
                served.get(target, {"Authorization": f"Basic {wrong}"}),
                served.get(target, {"Authorization": f"Bearer {TOKEN[:-1]}"}),
                served.get(target, {"Authorization": TOKEN}),
            ]
            assert [reply.status for reply in refused] == [401] * 5, target
            assert all("basic" in reply.headers["www-authenticate"].lower() for reply in refused)
            for reply in refused:
                assert TOKEN not in reply.body + json.dumps(reply.headers)
        assert served.get("/api/status", {"Authorization": f"Bearer {TOKEN}"}).status == 200
        page = served.get("/", {"Authorization": f"Basic {basic}"})
        assert page.status == 200 and TOKEN not in page.body + json.dumps(page.headers)
    assert served.process.stderr is not None
    assert TOKEN not in served.process.stderr.read()


def test_read_only_404_outside_the_routes_and_loopback_host_only(settings: Settings) -> None:
    with console(settings) as served:
        assert served.get("/api/nope").status == 404
        assert json.loads(served.get("/api/nope").body) == {"detail": "not found"}
        assert served.get("/nope").status == 404
        assert "<h1>404</h1>" in served.get("/nope").body
        for target in (
            "/static/../../../../etc/passwd",
            "/static/%2e%2e/%2e%2e/etc/passwd",
            "/static/..%2f..%2fapp.py",
        ):
            reply = served.get(target)
            assert reply.status == 404 and "root:" not in reply.body, target
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert served.get("/api/find?q=x", method=method).status == 405
        assert served.get("/", {"Host": "evil.example"}).status == 421  # DNS rebinding
        assert served.get("/", {"Host": "localhost"}).status == 200
        headers = served.get("/").headers
        assert (
            "script-src 'self'" in headers["content-security-policy"]
            and "frame-ancestors 'none'" in (headers["content-security-policy"])
        )
        assert headers["x-content-type-options"] == "nosniff"
        spec = json.loads(served.get("/api/openapi.json").body)
        assert {"/api/find", "/api/outline", "/api/runs", "/api/runs/{run_id}", "/api/status"} <= set(spec["paths"])


_HOSTILE = [
    "x'; DROP TABLE symbols; --",
    "' OR '1'='1",
    "%",
    "_",
    "\\",
    "\x00",
    "%00",
    "\x1b[2J",
    "<script>alert(1)</script>",
    "(*",
    "a" * 5000,
    "\ud800",
    "$(id)",
    "%ff%fe",
]


def test_hostile_query_strings_get_results_or_nothing_never_an_error(
    settings: Settings, worker: LocalWorkers, repo: Path
) -> None:
    index(settings, repo)
    with console(settings) as served:
        for text in _HOSTILE:
            q = quote(text, safe="", errors="surrogatepass") if text not in {"%00", "%ff%fe"} else text
            for target in (
                f"/api/find?q={q}",
                f"/api/find?q={q}&prefix=true&ignore_case=true",
                f"/?q={q}",
                f"/search/results?q={q}&language={q}&kind={q}",
            ):
                reply = served.get(target)
                assert reply.status == 200, (target, reply.status, reply.body[:300])
                assert "<script>alert(1)</script>" not in reply.body
            outline = served.get(f"/api/outline?repository={q}&path={q}")
            assert outline.status == 404 and "detail" in json.loads(outline.body)
            assert served.get(f"/runs/{q}").status in {404}
        assert len(json.loads(served.get("/api/find?q=Inventory").body)) == 1  # nothing dropped


def test_no_secret_in_any_reply(settings: Settings, worker: LocalWorkers, repo: Path) -> None:
    index(settings, repo)
    assert settings.database_url
    passfile = settings.database_url.split("passfile=")[1].split("&")[0]
    secret = Path(passfile).read_text().strip().rsplit(":", 1)[1]
    with console(settings) as served:
        for target in (
            "/",
            "/?q=Inv",
            "/runs",
            "/runs/latest",
            "/fleet",
            "/charts",
            "/api-docs",
            "/api/status",
            "/api/runs/latest",
            "/api/charts",
            "/api/openapi.json",
            "/api/outline?repository=x&path=y",
        ):
            reply = served.get(target)
            assert reply.status in {200, 404}, target
            assert secret not in reply.body and "pgpass" not in reply.body, target


def test_parsefleet_config_says_a_token_is_set_without_showing_it(settings: Settings) -> None:
    env = {**cli_env(settings), "PARSEFLEET_SERVE_TOKEN": TOKEN}
    done = subprocess.run([*PARSEFLEET, "config"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert any(line.split()[:2] == ["PARSEFLEET_SERVE_TOKEN", "(set)"] for line in done.stdout.splitlines())
