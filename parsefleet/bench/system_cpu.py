"""All the CPU a run costs on this host: besides the workers, the producer (this process) and Redis
and PostgreSQL when they run here (embedded, or local servers), found by their process ids.

Redis tells its pid (``INFO server``), PostgreSQL its backend's (``pg_backend_pid()``), whose
parent is the postmaster: its tree holds every backend and background process, and backends that
exited count through the postmaster's children's CPU. A pid that is not a ``redis-server`` or
``postgres`` process of this host means the server runs elsewhere: not counted, and said so.
"""

from __future__ import annotations

from pathlib import Path

from parsefleet.bench.probe import tree_sample
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.database import session

__all__ = ["local_service_pids", "services_cpu_s"]


def local_service_pids(redis_url: str, database_url: str) -> dict[str, int]:
    """``redis`` and ``postgresql`` -> the pid of the server's process tree, for those on this host."""
    found: dict[str, int] = {}
    client = redis_client(redis_url)
    try:
        info = client.info("server")
        redis_pid = int(str(info.get("process_id", 0))) if isinstance(info, dict) else 0
    finally:
        client.close()
    if redis_pid and _command(redis_pid).startswith("redis"):
        found["redis"] = redis_pid
    with session(database_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    backend = int(str(row[0])) if row else 0
    if backend and _command(backend).startswith("postgres"):
        postmaster = _parent(backend)
        if postmaster and _command(postmaster).startswith("postgres"):
            found["postgresql"] = postmaster
    return found


def services_cpu_s(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each service's process tree."""
    return {name: tree_sample(pid).cpu_s for name, pid in pids.items()}


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0
