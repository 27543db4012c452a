"""Step 2's per-batch figures outside the database: statsd, and the count of what was emitted.

The batch_metrics row is the store's (workers.store, in the batch's transaction); this sends the
same batch's timer and failure counters to statsd and counts them per hour in Redis, for
`parsefleet telemetry reconcile`.
"""

from __future__ import annotations

import logging

from common.emission import EmissionLedger
from common.errors import ParsefleetError
from common.metrics import Metrics
from common.names import METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL, queue_for
from common.settings import Settings
from workers.outcome import BatchOutcome
from workers.store import BatchTiming

__all__ = ["Emitter"]

log = logging.getLogger(__name__)


class Emitter:
    """A worker process's statsd client and emission ledger; the ledger's client opens on first use."""

    def __init__(self, settings: Settings) -> None:
        self._metrics = Metrics(settings)
        self._emitted = EmissionLedger(settings.redis_url or "")

    def emit(self, outcome: BatchOutcome, timing: BatchTiming) -> None:
        """The batch's statsd figures, counted in the hour of ``timing.finished_at``."""
        language = outcome.batch.language
        tags = {"language": language, "queue": queue_for(language), "worker": timing.worker}
        self._metrics.timing_ms(METRIC_PARSER_DURATION_MS, outcome.duration_ms, tags)
        failures = 0
        for item in outcome.files:
            if item.failure_kind is not None:
                self._metrics.count(METRIC_PARSER_FAILURE_TOTAL, 1, {**tags, "kind": item.failure_kind})
                failures += 1
        try:
            self._emitted.add({METRIC_PARSER_DURATION_MS: 1, METRIC_PARSER_FAILURE_TOTAL: failures}, timing.finished_at)
        except ParsefleetError as exc:
            log.warning("batch %s: emitted figures not counted: %s", outcome.batch.batch_id, exc)
