"""Flower against the fleet's own broker: `celery -A parsefleet.workers.app flower` lists the workers
and the parse task over its HTTP API (docs/operations.md says what it shows and what it cannot)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from parsefleet.contract.names import PARSE_BATCH_TASK
from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers, worker_env
from tests.services import free_port, wait_until

pytestmark = [pytest.mark.service, pytest.mark.timeout(180)]


def _get(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return json.loads(answer.read()) if answer.status == 200 else None
    except (OSError, json.JSONDecodeError):
        return None
    finally:
        connection.close()


def test_flower_lists_the_workers_and_the_parse_task(settings: Settings, worker: LocalWorkers, tmp_path: Path) -> None:
    assert settings.redis_url and settings.database_url
    port = free_port()
    env = {
        **worker_env(settings.redis_url, settings.database_url),
        "FLOWER_UNAUTHENTICATED_API": "true",  # Flower 2 serves its API only with auth, or with this
    }
    command = [
        sys.executable, "-m", "celery", "-A", "parsefleet.workers.app", "flower",
        "--address=127.0.0.1", f"--port={port}", "--inspect_timeout=3000",
    ]  # fmt: skip
    with (tmp_path / "flower.log").open("wb") as log:
        flower = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    found: dict[str, Any] = {}

    def listed() -> bool:
        workers = _get(port, "/api/workers?refresh=1")
        if not workers:
            return False
        found.update(workers)
        # Flower fills a worker's entry as its inspect replies come (a slow reply leaves keys out)
        return any(
            name.startswith("parsefleet-local-0@") and {"registered", "active_queues"} <= set(entry)
            for name, entry in workers.items()
        )

    try:
        wait_until(listed, f"Flower listing the worker (log: {tmp_path / 'flower.log'})", 90)
    finally:
        flower.terminate()
        flower.wait(timeout=30)
    (node,) = [name for name in found if name.startswith("parsefleet-local-0@")]
    assert PARSE_BATCH_TASK in found[node]["registered"]
    queues = {queue["name"] for queue in found[node]["active_queues"]}
    assert queues == {"parsefleet.python", "parsefleet.go", "parsefleet.rust"}
