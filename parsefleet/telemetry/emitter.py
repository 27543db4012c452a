"""Step 2's per-batch figures outside the database: statsd, and the count of what was emitted.

The batch_metrics row is the store's (parsefleet.workers.store, in the batch's transaction); this sends the
same batch's timer and failure counters to statsd and counts them per hour in Redis, for
`parsefleet telemetry reconcile`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from parsefleet.contract.errors import ParsefleetError
from parsefleet.contract.names import METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL, queue_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.metrics import Metrics
from parsefleet.telemetry.emission import EmissionLedger

__all__ = ["BatchFigures", "Emitter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchFigures:
    """What Step 2 reports of one committed batch."""

    batch_id: str
    language: str
    duration_ms: float
    failure_kinds: Sequence[str]
    worker: str
    finished_at: datetime


class Emitter:
    """A worker process's statsd client and emission ledger; the ledger's client opens on first use."""

    def __init__(self, settings: Settings) -> None:
        self._metrics = Metrics(settings)
        self._emitted = EmissionLedger(settings.redis_url or "")

    def emit(self, figures: BatchFigures) -> None:
        """The batch's statsd figures, counted in the hour of ``figures.finished_at``."""
        language = figures.language
        tags = {"language": language, "queue": queue_for(language), "worker": figures.worker}
        self._metrics.timing_ms(METRIC_PARSER_DURATION_MS, figures.duration_ms, tags)
        for kind in figures.failure_kinds:
            self._metrics.count(METRIC_PARSER_FAILURE_TOTAL, 1, {**tags, "kind": kind})
        counts = {METRIC_PARSER_DURATION_MS: 1, METRIC_PARSER_FAILURE_TOTAL: len(figures.failure_kinds)}
        try:
            self._emitted.add(counts, figures.finished_at)
        except ParsefleetError as exc:
            log.warning("batch %s: emitted figures not counted: %s", figures.batch_id, exc)
