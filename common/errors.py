"""One error hierarchy for parsefleet.

Third-party exceptions (redis, psycopg, tree-sitter, kombu) are translated at the module that
talks to them, so nothing else ever sees them.

    ParsefleetError
    ├── ConfigError             a setting or flag has a value we cannot use
    ├── InputError              the target given by the user cannot be submitted
    │   ├── TargetNotFound
    │   ├── TargetUnreadable
    │   └── NoSupportedFiles
    ├── ServiceUnavailable      a service we need cannot be reached
    │   ├── BrokerUnavailable   Redis
    │   └── StoreUnavailable    PostgreSQL
    ├── StoreRejected           PostgreSQL refused our data (a bad batch, not an outage)
    ├── EmbeddedServiceError    an embedded Redis or PostgreSQL failed to start
    ├── BatchFormatError        a batch on the wire cannot be decoded
    ├── CorpusError             a benchmark corpus cannot be built from the sources at hand
    ├── RunNotFound             a run id names no run
    └── ParseFailure            one file could not be outlined; ``kind`` names why
        ├── ParseTimeout
        └── ParseCancelled
"""

from __future__ import annotations

__all__ = [
    "BatchFormatError",
    "BrokerUnavailable",
    "ConfigError",
    "CorpusError",
    "EmbeddedServiceError",
    "InputError",
    "NoSupportedFiles",
    "ParseCancelled",
    "ParseFailure",
    "ParseTimeout",
    "ParsefleetError",
    "RunNotFound",
    "ServiceUnavailable",
    "StoreRejected",
    "StoreUnavailable",
    "TargetNotFound",
    "TargetUnreadable",
]


class ParsefleetError(Exception):
    """Root of every error parsefleet raises on purpose."""


class ConfigError(ParsefleetError):
    """Raised when a setting (environment variable or flag) has an unusable value."""


class InputError(ParsefleetError):
    """Raised when the target of a submit cannot be used."""


class TargetNotFound(InputError):
    """Raised when a target path does not exist."""


class TargetUnreadable(InputError):
    """Raised when a target path exists but cannot be listed or read."""


class NoSupportedFiles(InputError):
    """Raised when a target holds no .py, .go or .rs file."""


class ServiceUnavailable(ParsefleetError):
    """Raised when a service cannot be reached; the message names its URL without a password."""


class BrokerUnavailable(ServiceUnavailable):
    """Raised when Redis cannot be reached."""


class StoreUnavailable(ServiceUnavailable):
    """Raised when PostgreSQL cannot be reached or refuses a statement."""


class StoreRejected(ParsefleetError):
    """Raised when PostgreSQL rejects a statement's data; retrying the same batch cannot help."""


class EmbeddedServiceError(ParsefleetError):
    """Raised when the embedded Redis or PostgreSQL cannot be started."""


class BatchFormatError(ParsefleetError):
    """Raised when a batch payload is not a batch this version can read."""


class CorpusError(ParsefleetError):
    """Raised when a corpus source is missing, too small, unreadable, or the corpus cannot be written."""


class RunNotFound(ParsefleetError):
    """Raised when a run id (or 'latest') names no stored run."""


class ParseFailure(ParsefleetError):
    """Raised when one file cannot be outlined. ``kind`` is the failure kind that gets recorded."""

    kind = "parse-error"


class ParseTimeout(ParseFailure):
    """Raised when a parse runs past the per-file timeout and is cancelled."""

    kind = "timeout"


class ParseCancelled(ParseFailure):
    """Raised when a parse is cancelled for a reason other than time (a memory budget)."""

    kind = "memory"
