"""The bare test app's server run on the host: endpoints, faults, backlog, SIGTERM drain."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.bare_app import SERVER
from tests.support.pg import free_port


class Bare:
    """One server process on 127.0.0.1 with the interpreter options of the image."""

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {"PATH": os.environ.get("PATH", ""), "HOST": "127.0.0.1",
                   "PORT": str(self.port), "VERSION": "v-test", **env}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-u", str(SERVER)],
            env=environ,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._said = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._said:
                self.lines.append(line)
                self._said.notify_all()

    def wait_said(self, text: str, timeout: float = 15) -> None:
        with self._said:
            if not self._said.wait_for(lambda: any(text in line for line in self.lines), timeout):
                raise AssertionError(f"the server never said {text!r}: {self.lines}")

    def wait_listening(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.lines
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"nothing listened on {self.port} within {timeout:.0f}s")

    def terminate(self) -> float:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        return started

    def exit(self, timeout: float = 15) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code, "".join(self.lines)


@pytest.fixture
def start() -> Iterator[type[Bare]]:
    started: list[Bare] = []

    class Started(Bare):
        def __init__(self, **env: str) -> None:
            super().__init__(**env)
            started.append(self)

    yield Started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
        server.exit()


def test_endpoints_on_one_keep_alive_connection(start: type[Bare]) -> None:
    server = start()
    server.wait_listening()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    answers = []
    for path in ("/healthz", "/readyz", "/", "/slow?s=0.2", "/slow?s=soon", "/nope"):
        connection.request("GET", path)
        response = connection.getresponse()
        answers.append((path, response.status, response.read().decode()))
        if path == "/healthz":
            first = connection.sock
    # The same socket all along: every answer carried a length and kept the connection.
    assert connection.sock is first
    connection.close()
    assert answers == [
        ("/healthz", 200, "ok\n"),
        ("/readyz", 200, "ready\n"),
        ("/", 200, "v-test"),
        ("/slow?s=0.2", 200, "slept 0.2\n"),
        ("/slow?s=soon", 400, "s must be a number of seconds\n"),
        ("/nope", 404, "not found\n"),
    ]


def test_sigterm_stops_accepting_finishes_in_flight_and_exits_0(start: type[Bare]) -> None:
    server = start()
    server.wait_listening()
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(httpx.get, f"{server.url}/slow", params={"s": "1.5"}, timeout=30)
        server.wait_said("slow request started")
        signalled = server.terminate()
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the handshake was queued as the listening socket closed.
                break
            assert time.monotonic() < deadline, f"still accepting after SIGTERM: {server.lines}"
            time.sleep(0.02)
        response = slow.result()
    assert (response.status_code, response.text) == (200, "slept 1.5\n")
    assert response.headers["connection"] == "close"
    code, stderr = server.exit()
    assert code == 0, stderr
    assert time.monotonic() - signalled < 10
    assert "waiting for 1 request(s) in flight" in stderr


def test_drain_seconds_answers_unready_but_serves_then_exits_0(start: type[Bare]) -> None:
    server = start(DRAIN_SECONDS="3")
    server.wait_listening()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/readyz").status_code == 200
        signalled = server.terminate()
        server.wait_said("SIGTERM: not ready", timeout=3)
        ready = client.get("/readyz")
        assert (ready.status_code, ready.headers["connection"]) == (503, "close")
        assert client.get("/healthz").status_code == 200
        assert client.get("/").text == "v-test"
    code, stderr = server.exit()
    assert code == 0, stderr
    assert time.monotonic() - signalled >= 3


def test_fault_unhealthy_fails_liveness_but_not_readiness(start: type[Bare]) -> None:
    server = start(FAULT="unhealthy")
    server.wait_listening()
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 500
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    assert httpx.get(f"{server.url}/", timeout=5).status_code == 200


def test_fault_errors_fails_every_other_path(start: type[Bare]) -> None:
    server = start(FAULT="errors")
    server.wait_listening()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        statuses = [client.get(path).status_code for path in ("/healthz", "/readyz", "/", "/slow")]
    assert statuses == [200, 200, 500, 500]


@pytest.mark.parametrize(
    ("env", "code", "said"),
    [
        ({"FAULT": "crash"}, 3, "FAULT=crash"),
        ({"FAULT": "sometimes"}, 2, "FAULT must be one of unhealthy, crash, errors"),
        ({"PORT": "nine"}, 2, "bad environment"),
    ],
)
def test_crash_and_bad_environment_exit_at_start(
    start: type[Bare], env: dict[str, str], code: int, said: str
) -> None:
    server = start(**env)
    returned, stderr = server.exit()
    assert returned == code
    assert said in stderr


def accepted_while_stopped(server: Bare) -> int:
    """Handshakes the kernel completes for a stopped server: its accept queue, backlog + 1."""
    # An answer proves the earlier connections (wait_listening's) left the queue.
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    server.process.send_signal(signal.SIGSTOP)
    stat = Path(f"/proc/{server.process.pid}/stat")
    # The signal is asynchronous: a server not yet stopped would accept one more.
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.01)
    sockets: list[socket.socket] = []
    try:
        for _ in range(12):
            try:
                sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=0.5))
            except TimeoutError:
                break
    finally:
        server.process.send_signal(signal.SIGCONT)
        for sock in sockets:
            sock.close()
    return len(sockets)


@pytest.mark.parametrize(("env", "queued"), [({}, 4 + 1), ({"LISTEN_BACKLOG": "2"}, 2 + 1)])
def test_listen_backlog_is_the_configured_one(
    start: type[Bare], env: dict[str, str], queued: int
) -> None:
    server = start(**env)
    server.wait_listening()
    assert accepted_while_stopped(server) == queued
    # And it serves again once resumed.
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
