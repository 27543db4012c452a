"""What a command starts or connects to: embedded Redis and PostgreSQL under the data directory,
the service URLs in use, and local worker processes."""
