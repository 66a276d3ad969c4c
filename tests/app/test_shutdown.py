"""Graceful shutdown of the real server process: drain, finish in-flight work, exit 0."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.app.conftest import ServerProcess

SHUTDOWN_TIMEOUT = 10


def _wait_until_ready(client: httpx.Client, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/ready").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("server never became ready")


def _in_flight(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("http_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no http_requests_in_flight in /metrics")


def test_sigterm_drains_in_flight_requests_and_exits_0(
    server_env: dict[str, str], start_server: type[ServerProcess]
) -> None:
    server_env["SHUTDOWN_TIMEOUT"] = str(SHUTDOWN_TIMEOUT)
    server = start_server(server_env)
    server.wait_until_listening()

    with (
        httpx.Client(base_url=server.base_url, timeout=5) as keep_alive,
        httpx.Client(base_url=server.base_url, timeout=15) as slow_client,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        _wait_until_ready(keep_alive)
        slow = pool.submit(slow_client.get, "/slow", params={"seconds": 3})
        deadline = time.monotonic() + 10
        # The scrape counts itself, so 2 means /slow is being handled.
        while _in_flight(keep_alive) < 2:
            assert time.monotonic() < deadline, "the slow request never started"
            time.sleep(0.02)

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()

        outcome = None
        while outcome is None:
            assert time.monotonic() < signalled + 5, "/ready kept answering 200 after SIGTERM"
            try:
                response = keep_alive.get("/ready")
            except httpx.TransportError as exc:
                outcome = f"refused ({type(exc).__name__})"
            else:
                if response.status_code == 503:
                    assert response.json() == {"ready": False, "reasons": ["shutting down"]}
                    outcome = "503"
                else:
                    time.sleep(0.02)
        assert not slow.done(), "the slow request finished before draining was observed"

        slow_response = slow.result(timeout=15)
        assert slow_response.status_code == 200
        assert slow_response.json() == {"slept": 3.0}

    exit_code = server.process.wait(timeout=SHUTDOWN_TIMEOUT + 5)
    took = time.monotonic() - signalled
    output = server.output()
    assert exit_code == 0, output
    assert took < SHUTDOWN_TIMEOUT, output

    entries = [json.loads(line) for line in output.splitlines()]
    messages = [entry["message"] for entry in entries]
    assert any(m.startswith("shutdown started") for m in messages), messages
    assert messages[-1] == "shutdown complete"
    assert server_env["DATABASE_URL"].split(":")[2].split("@")[0] not in output
    slow_lines = [e for e in entries if e.get("route") == "/slow"]
    assert [e["status"] for e in slow_lines] == [200]
