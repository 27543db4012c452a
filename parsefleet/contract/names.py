"""Every Redis key, Celery queue and task name, and metric name, in one place."""

from __future__ import annotations

from parsefleet.contract.languages import LANGUAGES

__all__ = [
    "ATTEMPTS_KEY_PREFIX",
    "DEAD_LETTER_KEY",
    "KOMBU_UNACKED_KEY",
    "METRIC_CICD_SUCCESS_RATIO",
    "METRIC_CLI_CMD_DURATION_MS",
    "METRIC_PARSER_DURATION_MS",
    "METRIC_PARSER_FAILURE_TOTAL",
    "OUTBOX_KEY",
    "OUTBOX_MISSING_KEY",
    "OUTBOX_SWEEP_LOCK_KEY",
    "PARENT_PID_ENV",
    "PARSE_BATCH_TASK",
    "QUEUES",
    "TELEMETRY_EMITTED_KEY_PREFIX",
    "TELEMETRY_FLAG",
    "TELEMETRY_REVERTED_KEY",
    "queue_for",
]

PARSE_BATCH_TASK = "parsefleet.parse_batch"

QUEUES: dict[str, str] = {language: f"parsefleet.{language}" for language in LANGUAGES}

# Set by a launcher (parsefleet run): the worker then exits when that process dies.
PARENT_PID_ENV = "PARSEFLEET_PARENT_PID"

# Redis keys
DEAD_LETTER_KEY = "parsefleet:dead_letter"
# One counter per task id: times a batch started on a worker without finishing (poison batches).
ATTEMPTS_KEY_PREFIX = "parsefleet:attempts:"
# The outbox (common/outbox.py): batch id -> [queue, payload] of every batch sent and not finished;
# batch id -> when a sweep first found it neither queued nor unacknowledged; the sweepers' turn.
OUTBOX_KEY = "parsefleet:outbox"
OUTBOX_MISSING_KEY = "parsefleet:outbox:missing"
OUTBOX_SWEEP_LOCK_KEY = "parsefleet:outbox:sweep"
# kombu's Redis transport: the hash of messages delivered and not yet acknowledged (its default name).
KOMBU_UNACKED_KEY = "unacked"
# The Step 2 telemetry flag: an integer percentage 0..100 (absent means 0).
TELEMETRY_FLAG = "telemetry.v2.parser_cli"
# Set by `parsefleet telemetry revert`: Step 2 off whatever the percentage, until re-enabled.
TELEMETRY_REVERTED_KEY = "telemetry.v2.parser_cli:reverted"
# One hash per UTC hour (suffix YYYY-MM-DDTHH): Step 2 figures emitted, by metric name.
TELEMETRY_EMITTED_KEY_PREFIX = "parsefleet:telemetry:emitted:"

# statsd metric names (shared/DESIGN.md; dashboards and alerts depend on them)
METRIC_PARSER_DURATION_MS = "parser_duration_ms"
METRIC_PARSER_FAILURE_TOTAL = "parser_failure_total"
METRIC_CLI_CMD_DURATION_MS = "cli_cmd_duration_ms"
METRIC_CICD_SUCCESS_RATIO = "cicd_success_ratio"


def queue_for(language: str) -> str:
    """Return the Celery queue of one language."""
    return QUEUES[language]
