"""How many workers it takes to drain a backlog within a target: pure arithmetic, shown step by step.

The rates are those the workers measured (their heartbeats): per language, source bytes per second
of batch time in one pool process. The backlog of a language divided by its rate is the pool-process
time it needs; a worker supplies ``concurrency x slot_share`` pool-process seconds per second (its
CPU governor holds each process to ``slot_share`` of a CPU); the target gives the seconds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from parsefleet.contract.heartbeat import Heartbeat, LanguageWork

__all__ = ["Advice", "WorkerSize", "advise", "pooled_rates"]


@dataclass(frozen=True, slots=True)
class WorkerSize:
    """One worker's capacity: pool processes and the CPU share of each."""

    concurrency: int
    slot_share: float

    @property
    def slots(self) -> float:
        """Pool-process seconds one worker supplies per second."""
        return self.concurrency * min(1.0, self.slot_share)

    @classmethod
    def configured(cls, concurrency: int, cpu_limit_pct: int) -> WorkerSize:
        """A worker of these settings on this machine's CPUs (when no worker is alive to say)."""
        return cls(concurrency, min(1.0, cpu_limit_pct / 100 * len(os.sched_getaffinity(0)) / concurrency))

    @classmethod
    def of(cls, beats: Iterable[Heartbeat], fallback: WorkerSize) -> WorkerSize:
        """The size of the alive workers (the most common one), or ``fallback`` when none is."""
        sizes = [cls(beat.concurrency, beat.slot_share) for beat in beats]
        return max(sizes, key=sizes.count) if sizes else fallback


@dataclass(frozen=True, slots=True)
class Advice:
    """The advised worker count and every figure it came from."""

    workers: int
    drain_within_s: float
    backlog_bytes: dict[str, int]
    rates: dict[str, float]  # bytes per pool-process second, per language (measured or assumed)
    assumed: dict[str, str]  # language -> why its rate is assumed
    work_s: dict[str, float]  # pool-process seconds per language
    size: WorkerSize
    alive: int
    eta_s: float | None  # with the alive workers at their measured rate

    @property
    def total_work_s(self) -> float:
        """Pool-process seconds of the whole backlog."""
        return sum(self.work_s.values())

    def lines(self) -> list[str]:
        """The arithmetic, one step a line."""
        out = ["backlog: " + (", ".join(f"{lang} {_mb(n)}" for lang, n in self.backlog_bytes.items()) or "none")]
        for lang, rate in self.rates.items():
            why = f" ({self.assumed[lang]})" if lang in self.assumed else ""
            out.append(f"measured {lang}: {_mb(rate)}/s per pool process{why}")
        for lang, seconds in self.work_s.items():
            out.append(f"work {lang}: {_mb(self.backlog_bytes[lang])} / {_mb(self.rates[lang])}/s = {seconds:.1f} s")
        out.append(f"total work: {self.total_work_s:.1f} pool-process seconds")
        out.append(
            f"one worker: {self.size.concurrency} processes x {min(1.0, self.size.slot_share):.2f} CPU share"
            f" = {self.size.slots:.2f} process-seconds per second"
        )
        needed = self.total_work_s / (self.drain_within_s * self.size.slots) if self.size.slots else 0.0
        out.append(
            f"drain within {self.drain_within_s:g} s: {self.total_work_s:.1f} / ({self.drain_within_s:g} x"
            f" {self.size.slots:.2f}) = {needed:.3f} -> {self.workers} worker{'s' if self.workers != 1 else ''}"
        )
        eta = "no worker alive" if self.eta_s is None else f"drained in about {self.eta_s:.1f} s at their rate"
        out.append(f"now: {self.alive} worker{'s' if self.alive != 1 else ''} alive; {eta}")
        return out

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "workers": self.workers,
            "drain_within_s": self.drain_within_s,
            "backlog_bytes": self.backlog_bytes,
            "bytes_per_process_s": self.rates,
            "assumed": self.assumed,
            "work_s": self.work_s,
            "total_work_s": self.total_work_s,
            "worker_size": {"concurrency": self.size.concurrency, "slot_share": self.size.slot_share},
            "alive": self.alive,
            "eta_s": self.eta_s,
            "arithmetic": self.lines(),
        }


def pooled_rates(beats: Iterable[Heartbeat]) -> dict[str, float]:
    """Bytes per pool-process second of batch time, per language, pooled over the workers."""
    pooled: dict[str, LanguageWork] = {}
    for beat in beats:
        for lang, work in beat.languages.items():
            seen = pooled.get(lang, LanguageWork())
            pooled[lang] = LanguageWork(
                seen.batches + work.batches,
                seen.source_bytes + work.source_bytes,
                seen.parse_s + work.parse_s,
                seen.batch_s + work.batch_s,
            )
    return {lang: rate for lang, work in pooled.items() if (rate := work.batch_bytes_per_s) is not None}


def advise(
    backlog_bytes: Mapping[str, int],
    measured: Mapping[str, float],
    size: WorkerSize,
    drain_within_s: float,
    *,
    alive_slots: float,
    alive: int,
) -> Advice:
    """Workers of ``size`` needed to drain ``backlog_bytes`` within ``drain_within_s``.

    A language with a backlog but no measurement yet is assumed as slow as the slowest measured one
    (said in ``assumed``); with no measurement at all, the advice is one worker while anything waits.
    """
    waiting = {lang: int(n) for lang, n in backlog_bytes.items() if n > 0}
    rates, assumed = dict(measured), {}
    slowest = min(measured.items(), key=lambda item: item[1]) if measured else None
    for lang in waiting:
        if lang not in rates and slowest is not None:
            rates[lang], assumed[lang] = slowest[1], f"not measured yet: assumed as slow as {slowest[0]}"
    work_s = {lang: n / rates[lang] for lang, n in waiting.items() if lang in rates}
    total = sum(work_s.values())
    if waiting and not work_s:
        workers = 1
    else:
        workers = math.ceil(total / (drain_within_s * size.slots)) if total and size.slots else 0
        workers = max(workers, 1 if waiting else 0)
    eta = total / alive_slots if alive_slots > 0 and len(work_s) == len(waiting) else None
    shown = {lang: rates[lang] for lang in sorted(set(rates) & (set(waiting) | set(measured)))}
    return Advice(workers, drain_within_s, waiting, shown, assumed, work_s, size, alive, eta)


def _mb(count: float) -> str:
    return f"{count / 1e6:.2f} MB"
