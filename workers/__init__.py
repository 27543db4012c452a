"""The worker side: the Celery app, the parse task, language adapters, caps and the store."""
