"""Every Redis key, Celery queue and task name, and metric name, in one place."""

from __future__ import annotations

from parsefleet.contract.languages import LANGUAGES

__all__ = [
    "ADVISED_WORKERS_KEY",
    "ATTEMPTS_KEY_PREFIX",
    "DEAD_LETTER_KEY",
    "FLEET_SAMPLE_TURN_KEY",
    "KOMBU_UNACKED_KEY",
    "METRIC_ADVISED_WORKERS",
    "METRIC_CICD_SUCCESS_RATIO",
    "METRIC_CLI_CMD_DURATION_MS",
    "METRIC_PARSER_DURATION_MS",
    "METRIC_PARSER_FAILURE_TOTAL",
    "METRIC_QUEUED_BYTES",
    "METRIC_WORKERS_ALIVE",
    "METRIC_WORKERS_STALLED",
    "OUTBOX_KEY",
    "OUTBOX_META_KEY",
    "OUTBOX_MISSING_KEY",
    "OUTBOX_SWEEP_LOCK_KEY",
    "PARENT_PID_ENV",
    "PARSE_BATCH_TASK",
    "PARSE_RATE_KEY",
    "PAUSED_KEY",
    "PRODUCER_KEY_PREFIX",
    "PRODUCER_PRIORITIES_KEY",
    "QUEUES",
    "TELEMETRY_EMITTED_KEY_PREFIX",
    "TELEMETRY_FLAG",
    "TELEMETRY_REVERTED_KEY",
    "UNKNOWN_RUNS_KEY",
    "WORKERS_KEY",
    "WORKER_KEY_PREFIX",
    "WORKER_LAST_KEY",
    "WORKER_WORK_KEY_PREFIX",
    "queue_for",
]

PARSE_BATCH_TASK = "parsefleet.parse_batch"

QUEUES: dict[str, str] = {language: f"parsefleet.{language}" for language in LANGUAGES}

# Set by a launcher (parsefleet run): the worker then exits when that process dies.
PARENT_PID_ENV = "PARSEFLEET_PARENT_PID"

# Redis keys
DEAD_LETTER_KEY = "parsefleet:dead_letter"
# The producer of a run (producer/lease.py): PRODUCER_KEY_PREFIX + run id -> "<host>:<pid>", renewed
# every heartbeat_s, expiring after three missed renewals; a run not submitted whose key is gone has
# lost its producer (`parsefleet status`: producer gone; `parsefleet submit --resume RUN_ID`).
PRODUCER_KEY_PREFIX = "parsefleet:producer:"
# The priority of each producer holding its lease (`--priority`): a sorted set, run id scored by
# priority; a producer outranked by a live one keeps to a quarter of the pending-bytes budget.
PRODUCER_PRIORITIES_KEY = "parsefleet:producer_priorities"
# Batch id -> the refusals of a batch whose run a worker's database does not know (plumbing/unknown_runs.py).
UNKNOWN_RUNS_KEY = "parsefleet:unknown_runs"
# One counter per task id: times a batch started on a worker without finishing (poison batches).
ATTEMPTS_KEY_PREFIX = "parsefleet:attempts:"
# The outbox (common/outbox.py): batch id -> [queue, payload] of every batch sent and not finished;
# batch id -> when a sweep first found it neither queued nor unacknowledged; the sweepers' turn.
OUTBOX_KEY = "parsefleet:outbox"
OUTBOX_MISSING_KEY = "parsefleet:outbox:missing"
OUTBOX_SWEEP_LOCK_KEY = "parsefleet:outbox:sweep"
# Beside the outbox, written and removed with it: batch id -> [queue, enqueued at (epoch s), source
# bytes], so that `parsefleet status` tells the bytes waiting and the age of the oldest batch.
OUTBOX_META_KEY = "parsefleet:outbox:meta"
# The fleet (plumbing/fleet.py): each worker's heartbeat, written by its main process every
# heartbeat_s under WORKER_KEY_PREFIX + worker id ("<host>:<pid>"), expiring after three missed
# beats; WORKERS_KEY, worker id -> its last beat (epoch s), and WORKER_LAST_KEY, worker id -> its
# last beat's record, remember a worker after its key expired (gone) for worker_gone_keep_s.
WORKER_KEY_PREFIX = "parsefleet:worker:"
WORKERS_KEY = "parsefleet:workers"
WORKER_LAST_KEY = "parsefleet:workers:last"
# Per worker id, what its pool children did: batches, bytes and parse seconds per language.
WORKER_WORK_KEY_PREFIX = "parsefleet:work:"
# The moving estimate of each language's parse rate (parsefleet.contract.parse_rate), one field per
# language and worker host class ("<language>@<host class>"), updated by the pool children after
# each batch and read by the producer to size batches by time (parsefleet.producer.chunk).
PARSE_RATE_KEY = "parsefleet:parse_rate"
# Set by `parsefleet pause` (JSON: when, by whom), deleted by `parsefleet resume`: while it exists,
# every worker stops taking batches.
PAUSED_KEY = "parsefleet:paused"
# The advised number of workers (an integer; `parsefleet scale advise`, refreshed by the fleet every
# heartbeat), for autoscalers that read Redis; it expires when no worker refreshes it.
ADVISED_WORKERS_KEY = "parsefleet:scale:advised_workers"
# One worker per heartbeat period takes the turn to sample the fleet (advice, fleet_samples rows).
FLEET_SAMPLE_TURN_KEY = "parsefleet:fleet:sample"
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
# Operations gauges (docs/operations.md): workers advised to drain the backlog within the target,
# source bytes waiting per queue, workers alive and stalled.
METRIC_ADVISED_WORKERS = "parsefleet_advised_workers"
METRIC_QUEUED_BYTES = "parsefleet_queued_bytes"
METRIC_WORKERS_ALIVE = "parsefleet_workers_alive"
METRIC_WORKERS_STALLED = "parsefleet_workers_stalled"


def queue_for(language: str) -> str:
    """Return the Celery queue of one language."""
    return QUEUES[language]
