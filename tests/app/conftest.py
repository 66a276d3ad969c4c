"""Fixtures for the sample app: a real PostgreSQL, a fresh database per test, a live server."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import httpx
import pytest

from sample_app.db import run_migrations
from sample_app.settings import Settings, load_settings
from tests.support.pg import PostgresServer, PostgresUnavailable, free_port

APP_SRC = Path(__file__).resolve().parents[2] / "app" / "src"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run, stopped at the end.

    With GANGWAY_TEST_DATABASE_URL, that existing server instead (the Dagger test stage
    runs PostgreSQL as a service): databases are created and dropped in it, nothing else.
    """
    try:
        server = PostgresServer.for_tests()
        server.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = postgres.create_database()
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


def settings_for(database_url: str, **overrides: str) -> Settings:
    """Settings as the service would read them from this environment."""
    return load_settings({"DATABASE_URL": database_url, "APP_ENV": "test", **overrides})


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A database already at the head revision."""
    run_migrations(settings_for(database_url))
    return database_url


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo `configure_logging`, which rewires the root logger of this process."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    access = logging.getLogger("uvicorn.access")
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        access.disabled = False


def app_env(**variables: str) -> dict[str, str]:
    """Environment for a `python -m sample_app` child; app/src is importable as in the image."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_URL_FILE", "PORT", "HOST", "LOG_LEVEL"}
    }
    env["PYTHONPATH"] = str(APP_SRC)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(variables)
    return env


def run_app(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m sample_app ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "sample_app", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerProcess:
    """`python -m sample_app serve` in a child process, its output kept in a file."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._output: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sample_app", "serve"],
            env=dict(env),
            stdout=self._output,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def output(self) -> str:
        """Everything the server printed so far."""
        self._output.seek(0)
        return self._output.read()

    def wait_until_listening(self, timeout: float = 30) -> None:
        """Poll /health until the server answers at all (any status)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"server exited {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    client.get("/health")
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                return
        raise AssertionError(f"server did not listen within {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        """Kill the server if a test left it running, and release the output file."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._output.close()


@pytest.fixture
def start_server() -> Iterator[type[ServerProcess]]:
    """Start servers with `start_server(env)`; each is killed after the test if still alive."""
    started: list[ServerProcess] = []

    class TrackedServer(ServerProcess):
        def __init__(self, env: Mapping[str, str]) -> None:
            super().__init__(env)
            started.append(self)

    yield TrackedServer
    for server in started:
        server.stop()


@pytest.fixture
def server_env(migrated_url: str) -> dict[str, str]:
    """Environment for a server on a free port against a migrated database."""
    return app_env(
        DATABASE_URL=migrated_url,
        PORT=str(free_port()),
        HOST="127.0.0.1",
        APP_ENV="test",
        APP_VERSION="1.2.3",
        SHUTDOWN_TIMEOUT="10",
    )
