"""The app image: built by the classic builder, runs as uid 1001, healthy, stops cleanly."""

from __future__ import annotations

import json
import threading

import httpx

from tests.integration.conftest import (
    TEST_REVISION,
    TEST_VERSION,
    RunningApp,
    docker,
    inspect,
    wait_for,
)


def test_image_runs_as_uid_1001(app_image: str) -> None:
    assert docker("run", "--rm", "--pull=never", "--network=none", app_image, "id", "-u") == "1001"
    assert inspect("image", app_image)["Config"]["User"] == "1001:1001"


def test_image_declares_healthcheck_and_oci_labels(app_image: str) -> None:
    config = inspect("image", app_image)["Config"]
    assert config["Healthcheck"]["Test"] == ["CMD", "app", "healthcheck"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == TEST_VERSION
    assert labels["org.opencontainers.image.revision"] == TEST_REVISION
    assert f"APP_VERSION={TEST_VERSION}" in config["Env"]


def test_image_holds_no_pip_and_no_build_tools(app_image: str) -> None:
    probe = (
        "import importlib.util, shutil; "
        "print(importlib.util.find_spec('pip') is None, shutil.which('gcc') is None)"
    )
    out = docker("run", "--rm", "--pull=never", "--network=none", app_image, "python", "-c", probe)
    assert out == "True True"


def test_container_becomes_healthy_and_answers_health_and_ready(running_app: RunningApp) -> None:
    health = httpx.get(f"{running_app.url}/health", timeout=5)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok"
    assert body["version"] == TEST_VERSION
    assert body["environment"] == "integration"
    assert body["database"]["ok"] is True

    ready = httpx.get(f"{running_app.url}/ready", timeout=5)
    assert ready.status_code == 200, ready.text


def test_notes_round_trip_through_published_port(running_app: RunningApp) -> None:
    with httpx.Client(base_url=running_app.url, timeout=5) as client:
        created = client.post("/notes", json={"title": "from the container", "body": "hi"})
        assert created.status_code == 201, created.text
        listed = client.get("/notes").json()
    assert [n["title"] for n in listed] == ["from the container"]


def in_flight(url: str) -> bool:
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith("http_requests_in_flight"):
            # the /metrics request itself is one of them
            return float(line.rsplit(" ", 1)[1]) >= 2
    return False


def test_sigterm_finishes_in_flight_request_and_exits_zero(running_app: RunningApp) -> None:
    result: dict[str, httpx.Response | BaseException] = {}

    def slow_request() -> None:
        try:
            result["response"] = httpx.get(f"{running_app.url}/slow?seconds=3", timeout=30)
        except httpx.HTTPError as exc:
            result["response"] = exc

    worker = threading.Thread(target=slow_request)
    worker.start()
    wait_for("the slow request to be in flight", lambda: in_flight(running_app.url), timeout=10)

    grace = 20
    docker("stop", "--time", str(grace), running_app.container, timeout=grace + 30)
    worker.join(timeout=30)

    response = result["response"]
    assert isinstance(response, httpx.Response), f"in-flight request failed: {response!r}"
    assert response.status_code == 200
    assert response.json() == {"slept": 3.0}
    state = inspect("container", running_app.container)["State"]
    # 0, not 137: the app exited on its own within the grace period; docker did not
    # have to SIGKILL it.
    assert state["ExitCode"] == 0, docker("logs", running_app.container, check=False)
    assert not state["OOMKilled"]
    logs = docker("logs", running_app.container, check=False)
    assert any("shutdown" in json.loads(line).get("message", "").lower()
               for line in logs.splitlines() if line.startswith("{"))  # fmt: skip


def test_runtime_secret_never_reaches_image_history_or_labels(
    running_app: RunningApp, app_image: str
) -> None:
    password = running_app.database.password
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", app_image)
    image = json.dumps(inspect("image", app_image))
    assert history  # the check below means something only if history was read
    assert password not in history
    assert password not in image
    # nor in what the running service logged
    httpx.get(f"{running_app.url}/health", timeout=5)
    assert password not in docker("logs", running_app.container, check=False)
