"""The HTTP API in process: health, readiness, notes, metrics, request ids and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sample_app.db import run_migrations
from sample_app.logs import configure_logging
from sample_app.web import create_app
from tests.app.conftest import settings_for
from tests.support.pg import PostgresServer, free_port

with warnings.catch_warnings():
    # Starlette 1.x prefers the `httpx2` fork for its TestClient and warns once, at
    # import, when it falls back to httpx; the repository's test group pins httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(migrated_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(migrated_url, APP_VERSION="1.2.3"))) as test_client:
        yield test_client


def test_health_reports_version_environment_and_database_latency(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == "1.2.3"
    assert body["environment"] == "test"
    assert body["database"]["ok"] is True
    assert isinstance(body["database"]["latency_ms"], float)
    assert body["database"]["latency_ms"] >= 0


def test_health_is_503_without_password_when_database_is_unreachable(
    postgres: PostgresServer,
) -> None:
    password = "very-secret-pw-42"
    url = postgres.url("anything", password=password).replace(
        f":{postgres.port}/", f":{free_port()}/"
    )
    with TestClient(create_app(settings_for(url))) as unreachable:
        response = unreachable.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"]["ok"] is False
    assert "OperationalError" in body["database"]["error"]
    assert password not in response.text


def test_health_is_503_without_password_when_login_fails(postgres: PostgresServer) -> None:
    password = "wrong-password-77"
    with TestClient(create_app(settings_for(postgres.url("postgres", password=password)))) as c:
        response = c.get("/health")
    assert response.status_code == 503
    assert "password authentication failed" in response.json()["database"]["error"]
    assert password not in response.text


def test_ready_is_503_before_migrate_and_200_after(database_url: str) -> None:
    settings = settings_for(database_url)
    with TestClient(create_app(settings)) as client:
        before = client.get("/ready")
        assert before.status_code == 503
        assert before.json() == {
            "ready": False,
            "reasons": ["schema at revision none, expected 0001 (run `migrate`)"],
        }
        run_migrations(settings)
        after = client.get("/ready")
        assert after.status_code == 200
        assert after.json() == {"ready": True, "reasons": []}


def test_ready_is_503_when_database_is_unreachable(postgres: PostgresServer) -> None:
    url = f"postgresql://postgres:pw@127.0.0.1:{free_port()}/gone"
    with TestClient(create_app(settings_for(url))) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    [reason] = response.json()["reasons"]
    assert reason.startswith("database unreachable: OperationalError")


def test_ready_is_503_while_draining(client: TestClient) -> None:
    assert client.get("/ready").status_code == 200
    client.app.state.service.start_draining()  # type: ignore[attr-defined]
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reasons": ["shutting down"]}
    # Draining only takes the instance out of rotation; it is still alive.
    assert client.get("/health").status_code == 200


def test_notes_round_trip(client: TestClient) -> None:
    first = client.post("/notes", json={"title": "first", "body": "hello"})
    assert first.status_code == 201
    created = first.json()
    assert set(created) == {"id", "title", "body", "created_at"}
    assert created["title"] == "first"
    assert created["body"] == "hello"
    second = client.post("/notes", json={"title": "second"}).json()
    assert second["body"] == ""

    fetched = client.get(f"/notes/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    listed = client.get("/notes")
    assert listed.status_code == 200
    assert [note["title"] for note in listed.json()] == ["second", "first"]
    assert [note["title"] for note in client.get("/notes?limit=1").json()] == ["second"]


def test_missing_note_is_a_json_404(client: TestClient) -> None:
    response = client.get("/notes/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "note 999999 not found"}


@pytest.mark.parametrize(
    "payload",
    [{}, {"title": ""}, {"title": "x" * 201}, {"title": 5}, {"title": "ok", "extra": 1}],
)
def test_invalid_note_is_rejected_with_422(client: TestClient, payload: dict[str, Any]) -> None:
    assert client.post("/notes", json=payload).status_code == 422


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=many"])
def test_list_limit_out_of_range_is_422(client: TestClient, query: str) -> None:
    assert client.get(f"/notes?{query}").status_code == 422


def test_slow_sleeps_and_validates_its_bounds(client: TestClient) -> None:
    assert client.get("/slow?seconds=0.01").json() == {"slept": 0.01}
    assert client.get("/slow?seconds=11").status_code == 422
    assert client.get("/slow?seconds=-1").status_code == 422


def _sample(metrics_text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    note = client.post("/notes", json={"title": "counted"}).json()
    client.get(f"/notes/{note['id']}")
    client.get(f"/notes/{note['id']}")
    client.get("/notes/424242")
    client.get("/no/such/path")
    text = client.get("/metrics").text

    assert _sample(text, "http_requests_total", method="POST", route="/notes", status="201") == 1
    assert (
        _sample(text, "http_requests_total", method="GET", route="/notes/{note_id}", status="200")
        == 2
    )
    assert (
        _sample(text, "http_requests_total", method="GET", route="/notes/{note_id}", status="404")
        == 1
    )
    assert _sample(text, "http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert f"/notes/{note['id']}" not in text
    assert (
        _sample(text, "http_request_duration_seconds_count", method="GET", route="/notes/{note_id}")
        == 3
    )
    # The scrape itself is the one request in flight.
    assert "http_requests_in_flight 1.0" in text
    assert _sample(text, "app_info", version="1.2.3", environment="test") == 1


def test_two_apps_keep_separate_metrics(migrated_url: str) -> None:
    with (
        TestClient(create_app(settings_for(migrated_url))) as one,
        TestClient(create_app(settings_for(migrated_url))) as two,
    ):
        one.get("/slow?seconds=0")
        text = two.get("/metrics").text
    assert 'route="/slow"' not in text


def test_valid_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "deploy-42.a_b"})
    assert response.headers["X-Request-ID"] == "deploy-42.a_b"


@pytest.mark.parametrize("sent", [None, "has space", "x" * 129, "semi;colon"])
def test_invalid_or_missing_request_id_is_replaced(client: TestClient, sent: str | None) -> None:
    headers = {"X-Request-ID": sent} if sent is not None else {}
    response = client.get("/health", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


@pytest.mark.usefixtures("restore_logging")
def test_access_log_is_one_json_line_carrying_the_request_id(migrated_url: str) -> None:
    stream = io.StringIO()
    configure_logging(logging.INFO, stream=stream)
    with TestClient(create_app(settings_for(migrated_url))) as client:
        client.get("/notes?limit=3", headers={"X-Request-ID": "trace-me-1"})
        client.get("/notes/77", headers={"X-Request-ID": "trace-me-2"})
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [entry for entry in entries if entry["logger"] == "sample_app.access"]
    assert len(access) == 2
    first, second = access
    assert first["request_id"] == "trace-me-1"
    assert first["message"] == "GET /notes 200"
    assert first["level"] == "INFO"
    assert first["method"] == "GET"
    assert first["path"] == "/notes"
    assert first["route"] == "/notes"
    assert first["status"] == 200
    assert isinstance(first["duration_ms"], float)
    assert first["client"].startswith("testclient")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["ts"])
    assert second["request_id"] == "trace-me-2"
    assert second["route"] == "/notes/{note_id}"
    assert second["status"] == 404


@pytest.mark.usefixtures("restore_logging")
def test_log_lines_inside_a_request_carry_its_id(migrated_url: str) -> None:
    stream = io.StringIO()
    configure_logging(logging.INFO, stream=stream)
    app = create_app(settings_for(migrated_url))

    @app.get("/log-something")
    def log_something() -> dict[str, str]:
        logging.getLogger("sample_app.test").warning("inside", extra={"detail": 7})
        return {}

    with TestClient(app) as client:
        client.get("/log-something", headers={"X-Request-ID": "inner-1"})
    logging.getLogger("sample_app.test").warning("outside")
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = next(entry for entry in entries if entry["message"] == "inside")
    outside = next(entry for entry in entries if entry["message"] == "outside")
    assert inside["request_id"] == "inner-1"
    assert inside["detail"] == 7
    assert "request_id" not in outside
