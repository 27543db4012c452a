"""``parsefleet dead-letter list|replay``: the batches no worker could process, and sending them again.

A batch lands in the dead-letter list (common/dead_letter.py) when it cannot be decoded, when
PostgreSQL rejects its data, or when its worker kept dying even after it was split
(workers/poison.py). Until it is replayed its run cannot finish. Replaying sends the batch to its
language's queue as a new task (with a fresh attempt count) and then removes the entry; if the
command dies in between, the batch is sent twice, which the workers' idempotent writes absorb.
An entry whose payload is not a batch cannot be replayed and stays listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from parsefleet.contract.errors import ConfigError, DeadLetterNotFound
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import dead_letter
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.dead_letter import DeadLetter
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.reading.fleet import DeadLetterEntry as Entry
from parsefleet.reading.fleet import dead_letter_entry
from parsefleet.services.endpoints import Services

__all__ = ["Entry", "Replay", "list_entries", "replay"]


@dataclass
class Replay:
    """What ``replay`` did: entries sent again, and entries kept (id, why)."""

    sent: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)


def list_entries(settings: Settings) -> list[Entry]:
    """Every dead letter, oldest first."""
    with Services(settings) as services, translated(services.redis_url):
        return [dead_letter_entry(item) for item in dead_letter.entries(redis_client(services.redis_url))]


def replay(settings: Settings, entry_ids: Sequence[str], *, replay_all: bool) -> Replay:
    """Send the named entries (or all with ``replay_all``) to the workers again; unknown ids raise."""
    if replay_all == bool(entry_ids):
        raise ConfigError("name the dead letters to replay, or give --all (not both)")
    done = Replay()
    with Services(settings) as services, translated(services.redis_url):
        client = redis_client(services.redis_url)
        chosen = _chosen(dead_letter.entries(client), entry_ids, replay_all)
        enqueuer = Enqueuer(settings, services.redis_url)
        try:
            for item in chosen:
                entry = dead_letter_entry(item)
                if entry.batch is None:
                    done.kept.append((item.entry_id, "undecodable payload: cannot be replayed"))
                    continue
                enqueuer.send(entry.batch)
                dead_letter.remove(client, item)
                done.sent.append(item.entry_id)
        finally:
            enqueuer.close()
    return done


def _chosen(items: list[DeadLetter], entry_ids: Sequence[str], replay_all: bool) -> list[DeadLetter]:
    if replay_all:
        return items
    by_id = {item.entry_id: item for item in items}
    unknown = [entry_id for entry_id in entry_ids if entry_id not in by_id]
    if unknown:
        raise DeadLetterNotFound(f"no dead letter {', '.join(unknown)} (see `parsefleet dead-letter list`)")
    return [by_id[entry_id] for entry_id in dict.fromkeys(entry_ids)]
