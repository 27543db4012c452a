"""Redis and PostgreSQL: Celery's broker configuration and transport, connections with their
errors translated, the outbox and dead letters, run completion, migrations, statsd."""
