"""The bare test app's image: no shell, no cat, port 9000, small backlog, drains on SIGTERM."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support import bare_app
from tests.support.bare_app import BareContainer, docker, logs, running, wait_logged

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def bare_v1(docker_engine: str) -> str:
    return bare_app.image("v1")


@pytest.fixture
def name() -> str:
    return f"bare-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bare_network(name: str) -> Iterator[str]:
    docker("network", "create", "--label", bare_app.TEST_LABEL, name)
    yield name
    docker("network", "rm", name, check=False)


@pytest.fixture
def app(bare_v1: str, bare_network: str) -> Iterator[BareContainer]:
    with running(bare_v1, name=f"{bare_network}-app", network=bare_network) as container:
        yield container


def image_config(tag: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(docker("image", "inspect", "--format", "{{json .}}", tag))
    return config


def run_in_image(
    tag: str, name: str, *argv: str, entrypoint: str
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["docker", "run", "--rm", "--pull=never", "--network=none", "--name", name,
             "--entrypoint", entrypoint, tag, *argv],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        docker("rm", "--force", name, check=False)


def test_image_has_no_shell_and_no_cat(bare_v1: str, name: str) -> None:
    shell = run_in_image(bare_v1, f"{name}-sh", "-c", "true", entrypoint="/bin/sh")
    assert shell.returncode != 0
    assert "/bin/sh" in shell.stderr
    cat = run_in_image(bare_v1, f"{name}-cat", "/proc/net/tcp", entrypoint="cat")
    assert cat.returncode != 0
    assert "cat" in cat.stderr
    # The interpreter is there, so the failures above are about the programs, not the run.
    python = run_in_image(bare_v1, f"{name}-py", "-S", "-c", "print(6 * 7)",
                          entrypoint="/usr/bin/python3")  # fmt: skip
    assert python.stdout.strip() == "42", python.stderr


def test_image_has_no_healthcheck_exposes_9000_and_runs_as_non_root(bare_v1: str) -> None:
    config = image_config(bare_v1)
    assert config["Config"].get("Healthcheck") is None
    assert list(config["Config"]["ExposedPorts"]) == ["9000/tcp"]
    uid = config["Config"]["User"].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert "VERSION=v1" in config["Config"]["Env"]
    assert config["Size"] < 30_000_000, f"{config['Size']} bytes"


def test_second_version_shares_every_layer(bare_v1: str, bare_network: str) -> None:
    started = time.monotonic()
    bare_v2 = bare_app.image("v2")
    assert time.monotonic() - started < 60
    assert image_config(bare_v2)["RootFS"]["Layers"] == image_config(bare_v1)["RootFS"]["Layers"]
    with running(bare_v2, name=f"{bare_network}-v2", network=bare_network) as v2:
        assert httpx.get(f"{v2.url}/", timeout=5).text == "v2"


def test_endpoints_answer_over_one_keep_alive_connection(app: BareContainer) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        root = client.get("/")
        assert (root.status_code, root.text) == (200, "v1")
        assert root.http_version == "HTTP/1.1"
        assert "close" not in root.headers.get("connection", "")
        started = time.monotonic()
        slow = client.get("/slow", params={"s": "1"})
        assert slow.status_code == 200
        assert time.monotonic() - started >= 1
        assert client.get("/nothing-here").status_code == 404


def stop(name: str, grace: int = 20) -> float:
    started = time.monotonic()
    docker("stop", "--time", str(grace), name, timeout=grace + 30)
    return time.monotonic() - started


def exit_code(container: BareContainer) -> int:
    return int(docker("inspect", "--format", "{{.State.ExitCode}}", container.name))


def test_sigterm_lets_the_in_flight_request_finish_and_exits_0(app: BareContainer) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow: Future[httpx.Response] = pool.submit(
            httpx.get, f"{app.url}/slow", params={"s": "3"}, timeout=30
        )
        wait_logged(app.name, "slow request started")
        took = stop(app.name)
        assert slow.result().status_code == 200
    assert exit_code(app) == 0
    assert 1.5 < took < 15, f"docker stop took {took:.1f}s"


def test_drain_seconds_keeps_serving_unready_then_exits_0(bare_v1: str, bare_network: str) -> None:
    with (
        running(bare_v1, name=f"{bare_network}-slow", network=bare_network,
                env={"DRAIN_SECONDS": "3"}) as app,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):  # fmt: skip
        slow = pool.submit(httpx.get, f"{app.url}/slow", params={"s": "5"}, timeout=30)
        wait_logged(app.name, "slow request started")
        stopping = pool.submit(stop, app.name)
        wait_logged(app.name, "SIGTERM: not ready", timeout=10)
        assert httpx.get(f"{app.url}/readyz", timeout=5).status_code == 503
        # Not ready, but still answering whoever still sends (the router has not noticed).
        during = httpx.get(f"{app.url}/", timeout=5)
        assert (during.status_code, during.text) == (200, "v1")
        assert during.headers["connection"] == "close"
        took = stopping.result()
        assert slow.result().status_code == 200
        assert exit_code(app) == 0
        assert 3 <= took < 15, f"docker stop took {took:.1f}s"


def test_fault_unhealthy_fails_liveness_only(bare_v1: str, bare_network: str) -> None:
    with running(bare_v1, name=f"{bare_network}-sick", network=bare_network,
                 env={"FAULT": "unhealthy"}) as app:  # fmt: skip
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 500
        assert httpx.get(f"{app.url}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{app.url}/", timeout=5).status_code == 200


def test_fault_errors_answers_500_but_probes_pass(bare_v1: str, bare_network: str) -> None:
    with running(bare_v1, name=f"{bare_network}-errors", network=bare_network,
                 env={"FAULT": "errors"}) as app:  # fmt: skip
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{app.url}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{app.url}/", timeout=5).status_code == 500
        assert httpx.get(f"{app.url}/slow?s=0", timeout=5).status_code == 500


def test_fault_crash_exits_at_start(bare_v1: str, bare_network: str) -> None:
    with running(bare_v1, name=f"{bare_network}-crash", network=bare_network,
                 env={"FAULT": "crash"}, ready=False) as app:  # fmt: skip
        assert docker("wait", app.name, timeout=30) == "3"
        assert "FAULT=crash" in logs(app.name)


def test_listen_backlog_is_the_configured_four(app: BareContainer, bare_network: str) -> None:
    """Paused, the app accepts nothing: the kernel completes backlog + 1 handshakes, then
    drops SYNs. Measured from the host, straight to the container's address (the
    published port would go through docker-proxy, which accepts on its own)."""
    address = app.address(bare_network)
    docker("pause", app.name)
    sockets: list[socket.socket] = []
    try:
        for _ in range(8):
            try:
                sockets.append(socket.create_connection((address, bare_app.PORT), timeout=1))
            except TimeoutError:
                break
        assert len(sockets) == 4 + 1
    finally:
        docker("unpause", app.name)
        for sock in sockets:
            sock.close()


@pytest.mark.skipif(shutil.which("nsenter") is None or shutil.which("ss") is None,
                    reason="needs nsenter and ss on the host")  # fmt: skip
def test_listen_backlog_as_the_kernel_reports_it(app: BareContainer) -> None:
    # For a listening socket, ss shows the backlog as Send-Q; read in the container's
    # network namespace from the host, as the image has no tool of its own.
    out = subprocess.run(
        ["nsenter", f"--net=/proc/{app.pid()}/ns/net", "ss", "-Hltn", f"sport = :{bare_app.PORT}"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    state, _recv_q, send_q, *_ = out.split()
    assert (state, send_q) == ("LISTEN", "4")


def test_listen_backlog_follows_the_environment(bare_v1: str, bare_network: str) -> None:
    with running(bare_v1, name=f"{bare_network}-b2", network=bare_network,
                 env={"LISTEN_BACKLOG": "16"}) as app:  # fmt: skip
        assert "(backlog 16)" in logs(app.name)
