"""The sample app end to end, through the environment's public port."""

from __future__ import annotations

import uuid

import httpx
import pytest

smoke = pytest.mark.smoke


@smoke
def test_health_reports_ok_with_a_database_round_trip(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["version"]


@smoke
def test_ready_says_this_instance_takes_traffic(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"ready": True, "reasons": []}


@smoke
def test_listing_notes_reads_the_database(client: httpx.Client) -> None:
    response = client.get("/notes", params={"limit": 1})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


@smoke
def test_an_unknown_note_is_a_404_not_a_500(client: httpx.Client) -> None:
    response = client.get("/notes/999999999999")
    assert response.status_code == 404


def test_a_note_is_created_read_back_and_listed(client: httpx.Client) -> None:
    title = f"deployed-suite {uuid.uuid4().hex[:8]}"
    created = client.post("/notes", json={"title": title, "body": "end to end"})
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["title"] == title

    fetched = client.get(f"/notes/{note['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["body"] == "end to end"

    listed = client.get("/notes", params={"limit": 100})
    assert note["id"] in [item["id"] for item in listed.json()]


def test_invalid_input_is_rejected_with_422(client: httpx.Client) -> None:
    response = client.post("/notes", json={"title": ""})
    assert response.status_code == 422


def test_metrics_count_the_requests_this_suite_made(client: httpx.Client) -> None:
    client.get("/health")
    text = client.get("/metrics").text
    assert 'route="/health"' in text
