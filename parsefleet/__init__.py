"""parsefleet: a distributed parse job queue.

One import root, one package per concern (docs/architecture.md draws the data path):

- ``parsefleet.contract``: what both sides agree on, without I/O: settings, errors, names, the
  batch wire format, the outline model, languages, parser versions.
- ``parsefleet.plumbing``: Redis and PostgreSQL: the Celery broker and transport, connections,
  the outbox, dead letters, run completion, migrations, statsd.
- ``parsefleet.producer``: discover files, skip known blobs, chunk into batches, enqueue.
- ``parsefleet.workers``: the Celery app, the parse task, language adapters, caps, the store.
- ``parsefleet.telemetry``: the Step 2 flag and its rollout, per-command figures, alerts, retention.
- ``parsefleet.services``: embedded Redis and PostgreSQL, the URLs a command uses, local workers.
- ``parsefleet.reading``: what people read back: run state and reports.
- ``parsefleet.cli``: the ``parsefleet`` command.
- ``parsefleet.bench``, ``parsefleet.parity``: the benchmark and the reference-parser comparison
  (quality tools, outside the worker's runtime).
- ``parsefleet.schema``: the versioned SQL migrations, shipped as package data.
"""

__version__ = "0.1.0"
