"""``python -m parsefleet.workers [celery worker options]``: one worker, settings from ``PARSEFLEET_*``.

What ``parsefleet run`` starts for its local workers. Unlike ``celery -A``, it imports nothing
from the working directory (a target repository may hold packages of its own).
"""

from __future__ import annotations

import sys

from parsefleet.contract.names import QUEUES
from parsefleet.workers.app import configured_app, run_worker


def main(argv: list[str]) -> int:
    """Run a worker consuming every language queue until it is stopped; its exit code."""
    app = configured_app()
    level = app.settings.log_level
    return run_worker(app, ["--queues", ",".join(QUEUES.values()), "--loglevel", level, *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
