"""One error hierarchy for parsefleet.

Third-party exceptions (redis, psycopg, tree-sitter, kombu) are translated at the module that
talks to them, so nothing else ever sees them.

    ParsefleetError
    ├── ConfigError             a setting or flag has a value we cannot use
    │   └── StepTwoReverted     Step 2 telemetry was reverted; raising the flag needs --enable-step2
    ├── InputError              the target given by the user cannot be submitted
    │   ├── TargetNotFound
    │   ├── TargetUnreadable
    │   ├── NoSupportedFiles
    │   ├── NotARepository      --rev given for a path that is not a git repository
    │   ├── UnknownRevision     --rev names no commit of the repository
    │   └── NotInIndex          a repository or file a reader names is not in the index
    ├── ServiceUnavailable      a service we need cannot be reached
    │   ├── BrokerUnavailable   Redis
    │   └── StoreUnavailable    PostgreSQL (a connection-class error: an outage)
    │       └── SchemaMissing   the database has no parsefleet schema, or an older one
    ├── StoreRejected           PostgreSQL refused a statement (data or programming error, not an outage)
    ├── UnknownRun              a batch names a run the worker's database does not hold
    ├── EmbeddedServiceError    an embedded Redis or PostgreSQL failed to start
    ├── BatchFormatError        a batch on the wire cannot be decoded
    ├── CorpusError             a benchmark corpus cannot be built from the sources at hand
    ├── ReferenceUnavailable    a reference parser (go/parser, syn) cannot be built or run
    ├── RunNotFound             a run id names no run
    ├── DeadLetterNotFound      an id names no entry of the dead-letter list
    ├── RolloutNotFound         no stored ramp decision answers the question (baseline, go-live)
    ├── RampError               the telemetry ramp cannot start or go on
    ├── SnapshotError           pg_dump cannot be found or fails
    └── ParseFailure            one file could not be outlined; ``kind`` names why
        ├── ParseTimeout
        ├── ParseCancelled
        └── TooManySymbols
"""

from __future__ import annotations

__all__ = [
    "BatchFormatError",
    "BrokerUnavailable",
    "ConfigError",
    "CorpusError",
    "DeadLetterNotFound",
    "EmbeddedServiceError",
    "InputError",
    "NoSupportedFiles",
    "NotARepository",
    "NotInIndex",
    "ParseCancelled",
    "ParseFailure",
    "ParseTimeout",
    "ParsefleetError",
    "RampError",
    "ReferenceUnavailable",
    "RolloutNotFound",
    "RunNotFound",
    "SchemaMissing",
    "ServiceUnavailable",
    "SnapshotError",
    "StepTwoReverted",
    "StoreRejected",
    "StoreUnavailable",
    "TargetNotFound",
    "TargetUnreadable",
    "TooManySymbols",
    "UnknownRevision",
    "UnknownRun",
    "WorkersDied",
]


class ParsefleetError(Exception):
    """Root of every error parsefleet raises on purpose."""


class ConfigError(ParsefleetError):
    """Raised when a setting (environment variable or flag) has an unusable value."""


class StepTwoReverted(ConfigError):
    """Raised when the flag is raised above 0% after ``parsefleet telemetry revert`` without --enable-step2."""


class InputError(ParsefleetError):
    """Raised when the target of a submit cannot be used."""


class TargetNotFound(InputError):
    """Raised when a target path does not exist."""


class TargetUnreadable(InputError):
    """Raised when a target path exists but cannot be listed or read."""


class NoSupportedFiles(InputError):
    """Raised when a target holds no .py, .go or .rs file."""


class NotARepository(InputError):
    """Raised when ``--rev`` (or ``--name`` for several targets) is given for a path that is not a
    git repository (a work tree or a bare mirror)."""


class UnknownRevision(InputError):
    """Raised when ``--rev`` names no commit of the repository."""


class NotInIndex(InputError):
    """Raised when ``parsefleet outline``/``tags`` (or the console) name a repository or file the index
    does not hold, or a repository name that fits several."""


class ServiceUnavailable(ParsefleetError):
    """Raised when a service cannot be reached; the message names its URL without a password."""


class BrokerUnavailable(ServiceUnavailable):
    """Raised when Redis cannot be reached."""


class StoreUnavailable(ServiceUnavailable):
    """Raised when PostgreSQL cannot be reached, or fails with a connection-class error (psycopg's
    OperationalError: connection lost, server shutting down, out of resources, a deadlock or
    serialization failure); retrying later can help."""


class SchemaMissing(StoreUnavailable):
    """Raised when the database has no parsefleet schema, or an older one than this release needs:
    `parsefleet db migrate` fixes it, so workers keep their batches and retry."""


class StoreRejected(ParsefleetError):
    """Raised when PostgreSQL rejects a statement: its data (a constraint, a bad value) or the
    statement itself (an undefined column, a privilege); retrying the same batch cannot help."""


class UnknownRun(ParsefleetError):
    """Raised when a batch names a run the worker's database does not hold: a worker pointed at
    another PostgreSQL than its producer (same Redis). ``run_id`` is the run named."""

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class EmbeddedServiceError(ParsefleetError):
    """Raised when the embedded Redis or PostgreSQL cannot be started."""


class BatchFormatError(ParsefleetError):
    """Raised when a batch payload is not a batch this version can read."""


class WorkersDied(ParsefleetError):
    """Raised when every local worker (of ``parsefleet run`` or the bench) has exited before its run finished."""


class CorpusError(ParsefleetError):
    """Raised when a corpus source is missing, too small, unreadable, or the corpus cannot be written."""


class ReferenceUnavailable(ParsefleetError):
    """Raised when a reference parser of `parsefleet parity` cannot be built or run: its toolchain
    (go, cargo) or crate registry is missing, its build fails, or it prints what we cannot read."""


class RunNotFound(ParsefleetError):
    """Raised when a run id (or 'latest') names no stored run."""


class DeadLetterNotFound(ParsefleetError):
    """Raised when an id given to ``parsefleet dead-letter replay`` names no kept batch."""


class RolloutNotFound(ParsefleetError):
    """Raised when no stored ramp decision gives what a report needs (a baseline, a go-live time)."""


class RampError(ParsefleetError):
    """Raised when the telemetry ramp cannot start (no baseline data, Step 2 reverted) or go on."""


class SnapshotError(ParsefleetError):
    """Raised when no pg_dump fits the server, or pg_dump fails; the message is one line, no password."""


class ParseFailure(ParsefleetError):
    """Raised when one file cannot be outlined. ``kind`` is the failure kind that gets recorded."""

    kind = "parse-error"


class ParseTimeout(ParseFailure):
    """Raised when a parse runs past the per-file timeout and is cancelled."""

    kind = "timeout"


class ParseCancelled(ParseFailure):
    """Raised when a parse is cancelled for a reason other than time (a memory budget)."""

    kind = "memory"


class TooManySymbols(ParseFailure):
    """Raised when one file defines more symbols than ``max_file_symbols`` allows."""

    kind = "too-many-symbols"
