"""The fleet as ``parsefleet status`` and the console show it: queues, workers, runs in flight,
dead letters, pause.

``load_fleet`` reads Redis (heartbeats, backlog, pause, dead letters; parsefleet.plumbing.fleet)
and PostgreSQL (runs in flight, latest runs) once; ``FleetStatus.as_dict`` is the complete JSON
form (``parsefleet status --json``, the console's API), ``render`` the terminal's. ``fleet_status``
is the console's way in, with the first dead letters decoded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import redis
from psycopg import Connection
from psycopg.rows import class_row

from parsefleet.contract.batch import Batch, decode_batch
from parsefleet.contract.errors import BatchFormatError
from parsefleet.contract.heartbeat import Heartbeat
from parsefleet.contract.parse_rate import ParseRate
from parsefleet.contract.scaling import Advice, WorkerSize, advise, pooled_rates
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import dead_letter, fleet, unknown_runs
from parsefleet.plumbing.broker import translated
from parsefleet.plumbing.database import sql
from parsefleet.plumbing.dead_letter import DeadLetter
from parsefleet.plumbing.fleet import Backlog, Pause
from parsefleet.plumbing.outbox import Outbox
from parsefleet.plumbing.parse_rates import stored_rates
from parsefleet.plumbing.unknown_runs import Refusal
from parsefleet.reading.outdated import outdated_counts
from parsefleet.reading.report import RunState, recent_runs

__all__ = [
    "STALLED_ADVICE",
    "DeadLetterEntry",
    "FleetStatus",
    "RunProgress",
    "dead_letter_entry",
    "fleet_status",
    "load_advice",
    "load_fleet",
    "probe",
    "state_dict",
]

_HERE = Path(__file__).parent
STALLED_ADVICE = (
    "holds no batch while batches wait: its consumer is lost (Celery after a Redis reconnect). Its watchdog "
    "ends it with exit code 70 for systemd or Kubernetes to restart it; if it stays, restart it "
    "(systemctl restart parsefleet-worker@N, kubectl delete pod NAME) and look at its log for the reconnect"
)


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter as shown: what it is, why it is there, and whether it can be replayed."""

    entry_id: str
    at: datetime
    reason: str
    batch: Batch | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data (file names, not contents)."""
        batch = self.batch
        return {
            "id": self.entry_id,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "batch_id": batch.batch_id if batch else None,
            "run_id": batch.run_id if batch else None,
            "language": batch.language if batch else None,
            "paths": [item.ref.path for item in batch.files] if batch else [],
        }

    def render(self) -> str:
        """One line for a terminal."""
        what = "undecodable payload"
        if self.batch is not None:
            what = f"{self.batch.language} batch {self.batch.batch_id} ({len(self.batch.files)} files)"
        return f"{self.entry_id}  {self.at:%Y-%m-%d %H:%M:%S}  {what}: {self.reason}"


def dead_letter_entry(item: DeadLetter) -> DeadLetterEntry:
    """A stored dead letter, its batch decoded when it can be."""
    try:
        batch: Batch | None = decode_batch(item.payload)
    except BatchFormatError:
        batch = None
    return DeadLetterEntry(item.entry_id, datetime.fromtimestamp(item.at_s, UTC), item.reason, batch)


@dataclass(frozen=True, slots=True)
class RunProgress:
    """One run in flight: source bytes sent so far and done, and the last minute's rate."""

    run_id: str
    started_at: datetime
    submitted: bool
    batches_sent: int
    batches_done: int
    bytes_sent: int
    bytes_done: int
    bytes_last_minute: int
    window_s: float | None
    files_last_minute: int
    targets_total: int
    targets_read: int

    @property
    def done_pct(self) -> float | None:
        """Share of the bytes sent so far that are done, in percent."""
        return 100.0 * self.bytes_done / self.bytes_sent if self.bytes_sent else None

    @property
    def rate_bytes_per_s(self) -> float | None:
        """Bytes done per second over the last minute (None when nothing finished in it)."""
        if not self.bytes_last_minute or not self.window_s:
            return None
        return self.bytes_last_minute / min(60.0, max(1.0, self.window_s))

    @property
    def files_per_min_now(self) -> float | None:
        """Files done per minute over the last minute (None when nothing finished in it)."""
        if not self.files_last_minute or not self.window_s:
            return None
        return self.files_last_minute / min(60.0, max(1.0, self.window_s)) * 60

    @property
    def eta_s(self) -> float | None:
        """Seconds until the bytes sent so far are done, at the last minute's rate."""
        rate = self.rate_bytes_per_s
        return None if rate is None else (self.bytes_sent - self.bytes_done) / rate

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "submitted": self.submitted,
            "batches_sent": self.batches_sent,
            "batches_done": self.batches_done,
            "bytes_sent": self.bytes_sent,
            "bytes_done": self.bytes_done,
            "done_pct": self.done_pct,
            "bytes_per_s": self.rate_bytes_per_s,
            "eta_s": self.eta_s,
            "files_per_min_now": self.files_per_min_now,
            "targets_total": self.targets_total,
            "targets_read": self.targets_read,
        }

    def render(self) -> str:
        """One line."""
        pct = "?" if self.done_pct is None else f"{self.done_pct:.0f}%"
        eta = "no batch finished in the last minute" if self.eta_s is None else f"ETA {_duration(self.eta_s)}"
        sent = "" if self.submitted else " sent so far (still sending)"
        rate = "" if self.files_per_min_now is None else f", {self.files_per_min_now:,.0f} files/min now"
        return (
            f"run {self.run_id}: {pct} of {_mb(self.bytes_sent)}{sent}, batches {self.batches_done}/"
            f"{self.batches_sent}, targets read {self.targets_read}/{self.targets_total}{rate}, {eta}"
        )


@dataclass(frozen=True)
class FleetStatus:
    """Everything ``parsefleet status`` shows, read at ``at`` (epoch seconds)."""

    at: float
    heartbeat_s: float
    backlog: dict[str, Backlog]
    in_flight: int
    alive: list[Heartbeat]
    gone: list[Heartbeat]
    pause: Pause | None
    dead_letter: int
    advice: Advice
    advised_published: int | None
    runs_in_flight: list[RunProgress]
    runs: list[RunState]
    dead_letters: list[DeadLetterEntry] = field(default_factory=list)  # the first ones, decoded
    producers: set[str] = field(default_factory=set)  # runs whose producer holds its lease
    unknown_runs: list[Refusal] = field(default_factory=list)  # batches a worker's database refuses
    outdated: dict[str, int] = field(default_factory=dict)  # blobs to parse again, per language
    # The parse-rate estimates batches are sized from, by "<language>@<host class>", and the target.
    parse_rates: dict[str, ParseRate] = field(default_factory=dict)
    batch_target_ms: float = 0.0

    @property
    def queues(self) -> dict[str, int]:
        """Batches waiting per language."""
        return {lang: queue.waiting for lang, queue in self.backlog.items()}

    @property
    def stalled(self) -> list[Heartbeat]:
        """Workers alive whose watchdog finds them stalled."""
        return [beat for beat in self.alive if beat.state == "stalled"]

    def as_dict(self) -> dict[str, object]:
        """The complete JSON form."""
        return {
            "at": _iso(self.at),
            "heartbeat_s": self.heartbeat_s,
            "paused": None if self.pause is None else {"since": _iso(self.pause.since), "by": self.pause.by},
            "queues": {lang: queue.as_dict(self.at) for lang, queue in self.backlog.items()},
            "in_flight": self.in_flight,
            "workers": [_worker_dict(beat, self.at) for beat in self.alive],
            "stalled": [_stalled_dict(beat) for beat in self.stalled],
            "gone": [_gone_dict(beat) for beat in self.gone],
            "advice": self.advice.as_dict(),
            "advised_workers_published": self.advised_published,
            "runs_in_flight": [run.as_dict() for run in self.runs_in_flight],
            "dead_letter": self.dead_letter,
            "unknown_runs": [refusal.as_dict() for refusal in self.unknown_runs],
            "runs": [{**state_dict(run), "producer": self.producer(run)} for run in self.runs],
            "outdated_blobs": dict(self.outdated),
            "batch_target_ms": self.batch_target_ms,
            "parse_rates": {name: _rate_dict(rate, self.at) for name, rate in self.parse_rates.items()},
        }

    def producer(self, run: RunState) -> str:
        """``done`` (the run is submitted), ``running`` (its producer holds its lease) or ``gone``
        (it died: `parsefleet submit --resume RUN_ID`)."""
        if run.submitted_at is not None:
            return "done"
        return "running" if run.run_id in self.producers else "gone"

    def render(self) -> str:
        """Text for a terminal."""
        lines = [self._headline(), "", *self._queue_lines(), *self._rate_lines(), "", *self._worker_lines()]
        lines += ["", "runs in flight:" if self.runs_in_flight else "runs in flight: none"]
        lines += [f"  {run.render()}" for run in self.runs_in_flight]
        hint = " (parsefleet dead-letter list)" if self.dead_letter else ""
        lines.append(f"dead letters: {self.dead_letter}{hint}")
        lines += self._unknown_run_lines()
        lines.append("latest runs:")
        lines += [f"  {_state_line(run)}{self._producer_note(run)}" for run in self.runs]
        if self.outdated:
            counts = ", ".join(f"{language} {blobs}" for language, blobs in sorted(self.outdated.items()))
            lines.append(f"outdated outlines (an older parser version): {counts} (parsefleet reindex)")
        return "\n".join(lines)

    def _unknown_run_lines(self) -> list[str]:
        if not self.unknown_runs:
            return []
        lines = [
            f"batches of runs unknown to a worker's database: {len(self.unknown_runs)}"
            " (requeued, then dead-lettered: is that worker pointed at its producer's database?)"
        ]
        lines += [
            f"  batch {item.batch_id}: run {item.run_id} refused {item.count} times, first"
            f" {_ago(self.at - item.first_s)} by {item.worker} on {item.database}"
            for item in self.unknown_runs
        ]
        return lines

    def _producer_note(self, run: RunState) -> str:
        if self.producer(run) != "gone":
            return ""
        return f"; its producer is gone (parsefleet submit --resume {run.run_id})"

    def _headline(self) -> str:
        when = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if self.pause is None:
            return f"parsefleet status at {when}: fleet consuming (not paused)"
        since = _ago(self.at - self.pause.since)
        return f"parsefleet status at {when}: fleet PAUSED {since} by {self.pause.by} (parsefleet resume)"

    def _queue_lines(self) -> list[str]:
        lines = [f"{'queue':<8}{'waiting':>8}{'bytes':>11}{'oldest':>9}{'in outbox':>11}{'bytes':>11}"]
        for lang, queue in self.backlog.items():
            oldest = "-" if queue.oldest_at is None else _duration(self.at - queue.oldest_at)
            unsized = f"  ({queue.unsized} without size)" if queue.unsized else ""
            lines.append(
                f"{lang:<8}{queue.waiting:>8}{_mb(queue.waiting_bytes):>11}{oldest:>9}"
                f"{queue.outstanding:>11}{_mb(queue.outstanding_bytes):>11}{unsized}"
            )
        lines.append(f"in flight: {self.in_flight} batches sent and not finished (queued or being parsed)")
        advice = self.advice
        eta = "" if advice.eta_s is None else f"; drained in about {_duration(advice.eta_s)} at the workers' rate"
        lines.append(
            f"advice: {advice.workers} worker(s) drain the backlog within {_duration(advice.drain_within_s)}{eta}"
            " (parsefleet scale advise)"
        )
        return lines

    def _rate_lines(self) -> list[str]:
        if self.batch_target_ms <= 0:
            return ["batches sized by bytes (batch_target_ms 0)"]
        head = f"batches sized for {self.batch_target_ms:g} ms of parse from the measured rate"
        if not self.parse_rates:
            return [f"{head}: no rate measured yet (batch_max_bytes until then)"]
        lines = [f"{head} (bytes per outline-second of one pool process, moving estimate):"]
        for name, rate in sorted(self.parse_rates.items()):
            per_s = rate.bytes_per_s
            shown_rate = "-" if per_s is None else f"{_mb(per_s)}/s"
            lines.append(
                f"  {name:<24}{shown_rate:>12}  {rate.batches} batches, last {_ago(self.at - rate.updated_at_s)}"
            )
        return lines

    def _worker_lines(self) -> list[str]:
        lines = [f"workers: {len(self.alive)} alive, {len(self.stalled)} stalled, {len(self.gone)} gone"]
        if self.alive:
            lines.append(
                f"  {'worker':<34}{'state':<9}{'procs':>6}{'rss':>11}{'cpu 1m/cap':>13}{'held':>5}{'batches':>8}"
                f"{'last':>8}  MB/s of parse per process"
            )
        lines += [f"  {_worker_line(beat, self.at)}" for beat in self.alive]
        lines += [f"  STALLED {beat.worker_id}: {STALLED_ADVICE}" for beat in self.stalled]
        lines += [f"  gone {_gone_line(beat, self.at)}" for beat in self.gone]
        return lines


def fleet_status(
    client: redis.Redis,
    redis_url: str,
    conn: Connection,
    limit: int,
    *,
    dead_letters: int = 0,
    settings: Settings | None = None,
) -> FleetStatus:
    """The fleet (``settings``: the heartbeat and drain target assumed; defaults otherwise), with the
    first ``dead_letters`` dead letters decoded; redis errors translated."""
    with translated(redis_url):
        found = load_fleet(client, conn, settings or Settings(), limit)
        kept = dead_letter.entries(client)[:dead_letters] if dead_letters and found.dead_letter else []
    return replace(found, dead_letters=[dead_letter_entry(item) for item in kept])


def load_fleet(client: redis.Redis, conn: Connection, settings: Settings, limit: int) -> FleetStatus:
    """Read the fleet once (redis errors propagate; the caller translates them)."""
    now = time.time()
    queues = fleet.backlog(client)
    alive, gone = fleet.beats(client, now, settings.worker_gone_keep_s)
    advice = _advice(queues, alive, settings, settings.drain_within_s)
    with conn.cursor(row_factory=class_row(RunProgress)) as cursor:
        in_flight_runs = cursor.execute(sql(_HERE, "runs_in_flight"), {"limit": limit}).fetchall()
    conn.commit()
    runs = recent_runs(conn, limit)
    return FleetStatus(
        at=now,
        heartbeat_s=settings.heartbeat_s,
        backlog=queues,
        in_flight=Outbox(client).count(),
        alive=sorted(alive, key=lambda beat: beat.worker_id),
        gone=sorted(gone, key=lambda beat: -beat.beat_at),
        pause=fleet.paused(client),
        dead_letter=dead_letter.count(client),
        unknown_runs=unknown_runs.entries(client),
        advice=advice,
        advised_published=fleet.advised_workers(client),
        runs_in_flight=in_flight_runs,
        runs=runs,
        producers=fleet.producers_alive(client, [run.run_id for run in runs if run.submitted_at is None]),
        outdated=outdated_counts(conn),
        parse_rates=stored_rates(client),
        batch_target_ms=settings.batch_target_ms,
    )


def load_advice(client: redis.Redis, settings: Settings, drain_within_s: float) -> Advice:
    """The advice for ``drain_within_s`` from the backlog and the alive workers' measured rates."""
    alive, _gone = fleet.beats(client, time.time(), settings.worker_gone_keep_s)
    return _advice(fleet.backlog(client), alive, settings, drain_within_s)


def _advice(queues: dict[str, Backlog], alive: list[Heartbeat], settings: Settings, within_s: float) -> Advice:
    backlog_bytes = {lang: queue.outstanding_bytes for lang, queue in queues.items()}
    size = WorkerSize.of(alive, WorkerSize.configured(settings.concurrency, settings.cpu_limit_pct))
    slots = sum(WorkerSize(beat.concurrency, beat.slot_share).slots for beat in alive)
    return advise(backlog_bytes, pooled_rates(alive), size, within_s, alive_slots=slots, alive=len(alive))


def probe(alive: list[Heartbeat], host: str) -> tuple[bool, str]:
    """Whether this host's worker is live: a heartbeat from ``host`` that is not stalled."""
    mine = [beat for beat in alive if beat.host == host]
    if not mine:
        return False, f"no live heartbeat from host {host}: worker down, hung or cut off from Redis"
    stalled = [beat for beat in mine if beat.state == "stalled"]
    if stalled:
        return False, f"worker {stalled[0].worker_id} stalled: {STALLED_ADVICE}"
    return True, ", ".join(f"{beat.worker_id} {beat.state}" for beat in mine)


def _worker_dict(beat: Heartbeat, now: float) -> dict[str, object]:
    data = beat.as_dict()
    data["beat_age_s"] = round(now - beat.beat_at, 3)
    data["late"] = beat.late(now)
    for name in ("started_at", "beat_at", "last_batch_at", "last_taken_at", "stalled_since"):
        data[name] = _iso(getattr(beat, name))
    return data


def _stalled_dict(beat: Heartbeat) -> dict[str, object]:
    return {"worker_id": beat.worker_id, "since": _iso(beat.stalled_since), "advice": STALLED_ADVICE}


def _rate_dict(rate: ParseRate, now: float) -> dict[str, object]:
    return {"bytes_per_s": rate.bytes_per_s, "batches": rate.batches, "age_s": round(now - rate.updated_at_s, 3)}


def _gone_dict(beat: Heartbeat) -> dict[str, object]:
    return {
        "worker_id": beat.worker_id,
        "node": beat.node,
        "host": beat.host,
        "pid": beat.pid,
        "last_beat_at": _iso(beat.beat_at),
        "how": _how_gone(beat),
        "exit_code": beat.exit_code,
        "batches_done": beat.batches_done,
    }


def _how_gone(beat: Heartbeat) -> str:
    if beat.state == "stopped":
        return "ended by its watchdog (stalled)" if beat.exit_code else "stopped (drained)"
    return "heartbeat stopped: killed, hung or cut off"


def _worker_line(beat: Heartbeat, now: float) -> str:
    cap = beat.concurrency * min(1.0, beat.slot_share)  # CPUs its governor lets it use
    last = "-" if beat.last_batch_at is None else _duration(now - beat.last_batch_at)
    rates = " ".join(
        f"{lang} {rate / 1e6:.2f}" for lang, work in beat.languages.items() if (rate := work.parse_bytes_per_s)
    )
    state = "LATE" if beat.late(now) else beat.state
    return (
        f"{beat.worker_id:<34}{state:<9}{beat.concurrency:>6}{_mb(beat.rss_bytes):>11}"
        f"{f'{beat.cpu_share_1m:.2f}/{cap:.2f}':>13}{beat.active:>5}{beat.batches_done:>8}{last:>8}  {rates or '-'}"
    )


def _gone_line(beat: Heartbeat, now: float) -> str:
    return f"{beat.worker_id} (host {beat.host}) last beat {_ago(now - beat.beat_at)}: {_how_gone(beat)}"


def state_dict(state: RunState) -> dict[str, object]:
    """A run's state as JSON-ready data."""
    return {
        "run_id": state.run_id,
        "started_at": state.started_at.isoformat(),
        "status": state.status,
        "finished": state.finished,
        "batches": f"{state.batches_done}/{state.batches_total if state.batches_total is not None else '?'}",
        "files_done": state.files_done,
    }


def _state_line(state: RunState) -> str:
    run = state_dict(state)
    return (
        f"run {run['run_id']} started {run['started_at']} batches {run['batches']} files {run['files_done']}"
        f" {run['status']}"
    )


def _iso(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).isoformat()


def _ago(seconds: float) -> str:
    return f"{_duration(seconds)} ago"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _mb(count: float) -> str:
    return "0" if not count else f"{count / 1e6:.2f} MB"
