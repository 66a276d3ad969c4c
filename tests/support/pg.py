"""A throwaway PostgreSQL server for tests: initdb in a temp dir, TCP on 127.0.0.1.

Or, with GANGWAY_TEST_DATABASE_URL (an admin URL of a server that already runs, such
as the PostgreSQL service of the Dagger test stage), that server: the tests create and
drop their databases in it, and never start or stop it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

INSTALL_HINT = "PostgreSQL server binaries not found; install them with: apt-get install postgresql"
_SERVICE_USER = "postgres"
#: An admin URL of an existing server to use instead of starting one.
TEST_DATABASE_VARIABLE = "GANGWAY_TEST_DATABASE_URL"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing, or the server would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_bindir() -> Path:
    """Where initdb and pg_ctl live: `pg_config --bindir`, else the newest Debian install."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        candidate = Path(result.stdout.strip())
        if result.returncode == 0 and (candidate / "initdb").exists():
            return candidate
    installed = Path("/usr/lib/postgresql").glob("*/bin")

    def major(path: Path) -> int:
        version = path.parent.name
        return int(version) if version.isdigit() else -1

    for candidate_dir in sorted(installed, key=major, reverse=True):
        if (candidate_dir / "initdb").exists():
            return candidate_dir
    raise PostgresUnavailable(INSTALL_HINT)


class PostgresServer:
    """One PostgreSQL cluster owned by the test run; make databases in it per test."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = "postgres"
        self.password = secrets.token_urlsafe(16)
        self.admin_database = "postgres"
        #: True for a server this object did not start (and must not stop).
        self.external = False
        self._root: Path | None = None

    @classmethod
    def existing(cls, url: str) -> PostgresServer:
        """A running server, from its admin URL: databases are made there; never stopped."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise PostgresUnavailable(
                f"{TEST_DATABASE_VARIABLE}: expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
                f" (got a {parts.scheme or 'schemeless'} URL)"
            )
        server = cls.__new__(cls)
        server.bindir = Path()
        server.host = parts.hostname
        server.port = parts.port or 5432
        server.user = parts.username or "postgres"
        # Kept as written in the URL (percent-encoded), since url() puts it back there.
        server.password = parts.password or ""
        server.admin_database = parts.path.lstrip("/") or "postgres"
        server.external = True
        server._root = None
        return server

    @classmethod
    def for_tests(cls, environ: Mapping[str, str] | None = None) -> PostgresServer:
        """The server of a test run: GANGWAY_TEST_DATABASE_URL's if set, else a new one."""
        url = (os.environ if environ is None else environ).get(TEST_DATABASE_VARIABLE, "")
        return cls.existing(url) if url else cls()

    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("the server is not started")
        return self._root

    def _run(self, *argv: str) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        # PostgreSQL refuses to run as root, and CI runs as root.
        if os.geteuid() == 0:
            command = ["runuser", "-u", _SERVICE_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self._root / "server.log" if self._root else None
            server_log = log.read_text() if log and log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(command)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nserver log:\n{server_log}"
            )

    def start(self) -> None:
        """initdb a fresh cluster and start it; `pg_ctl -w` returns once it accepts connections.

        An external server is only checked: it must accept the admin URL.
        """
        if self.external:
            try:
                self._admin().close()
            except psycopg.OperationalError as exc:
                raise PostgresUnavailable(
                    f"{TEST_DATABASE_VARIABLE}: cannot connect to {self.host}:{self.port} "
                    f"as {self.user}: {str(exc).strip().splitlines()[-1]}"
                ) from exc
            return
        root = Path(tempfile.mkdtemp(prefix="gangway-pg-"))
        self._root = root
        (root / "socket").mkdir()
        password_file = root / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            for path in (root, root / "socket", password_file):
                shutil.chown(path, user=_SERVICE_USER, group=_SERVICE_USER)
        self._run(
            "initdb",
            "--pgdata",
            str(root / "data"),
            "--username",
            self.user,
            "--pwfile",
            str(password_file),
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-c listen_addresses={self.host}",
                f"-c port={self.port}",
                f"-c unix_socket_directories={root / 'socket'}",
                # Durability buys nothing for a database thrown away after the run.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
        )

    def stop(self) -> None:
        """Stop the server at once and delete its files (an external one is left alone)."""
        if self.external or self._root is None:
            return
        try:
            self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self._root / "data"))
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A libpq URL for `database` as the superuser (or with another password)."""
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url(self.admin_database), autocommit=True, connect_timeout=10)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its name."""
        database = name or f"test_{uuid.uuid4().hex[:12]}"
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        return database

    def drop_database(self, name: str) -> None:
        """Drop a database even if a test left connections open to it."""
        with self._admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
