"""The webhook bodies: the generic JSON schema and the Slack-compatible message."""

from __future__ import annotations

import json

import pytest

from gangway.config.types import Event, WebhookFormat
from gangway.masking import MASK
from gangway.notify import (
    SCHEMA_VERSION,
    DeployEvent,
    headline,
    json_payload,
    payload,
    slack_payload,
)
from gangway.notify.payloads import Action

FAILED = DeployEvent(
    event="failed",
    action="deploy",
    app="notes",
    environment="production",
    version="v2",
    image="127.0.0.1:5000/notes:v2",
    actor="ana",
    previous_version="v1",
    duration_seconds=12.345,
    step="ready",
    reason="http://127.0.0.1:8181/ready did not answer 2xx within 20s",
    url="http://127.0.0.1:8081",
    timestamp="2025-05-01T10:00:00Z",
)


def test_json_payload_has_every_documented_key_with_its_value() -> None:
    assert json_payload(FAILED) == {
        "schema_version": SCHEMA_VERSION,
        "event": "failed",
        "action": "deploy",
        "app": "notes",
        "environment": "production",
        "version": "v2",
        "previous_version": "v1",
        "image": "127.0.0.1:5000/notes:v2",
        "duration_seconds": 12.3,
        "actor": "ana",
        "step": "ready",
        "reason": "http://127.0.0.1:8181/ready did not answer 2xx within 20s",
        "url": "http://127.0.0.1:8081",
        "timestamp": "2025-05-01T10:00:00Z",
    }


def test_started_event_has_a_null_duration_and_empty_step_and_a_utc_timestamp() -> None:
    started = DeployEvent("started", "deploy", "notes", "staging", "v2", "notes:v2", "ana")
    body = json_payload(started)
    assert body["duration_seconds"] is None
    assert (body["step"], body["reason"], body["previous_version"]) == ("", "", "")
    assert body["timestamp"].endswith("Z")
    json.dumps(body)  # serialisable as is


def test_slack_payload_has_text_and_an_attachment_with_the_facts() -> None:
    body = slack_payload(FAILED)
    assert body["text"] == ":x: deploy of notes v2 to production failed at ready"
    [attachment] = body["attachments"]
    assert attachment["color"] == "danger"
    assert attachment["fallback"] == body["text"]
    fields = {field["title"]: field["value"] for field in attachment["fields"]}
    assert fields == {
        "Environment": "production",
        "Version": "v2",
        "Outcome": "failed",
        "By": "ana",
        "Duration": "12.3s",
        "Previous version": "v1",
        "Failing step": "ready",
        "Reason": "http://127.0.0.1:8181/ready did not answer 2xx within 20s",
        "Image": "127.0.0.1:5000/notes:v2",
    }


def test_slack_text_escapes_its_control_characters() -> None:
    event = DeployEvent("failed", "deploy", "notes", "staging", "v<2>&", "i", "ana", step="x")
    assert "v&lt;2&gt;&amp;" in slack_payload(event)["text"]


@pytest.mark.parametrize(
    ("event", "action", "previous", "expected"),
    [
        ("started", "deploy", "", "deploy of notes v2 to production started"),
        ("succeeded", "deploy", "v1", "notes v2 is live on production"),
        ("rolled_back", "deploy", "v1", "notes v2 was rolled back on production; v1 is live again"),
        ("rolled_back", "rollback", "v3", "production rolled back to notes v2"),
        ("failed", "rollback", "", "rollback of notes v2 to production failed"),
    ],
)
def test_headline_says_what_happened(
    event: Event, action: Action, previous: str, expected: str
) -> None:
    subject = DeployEvent(
        event, action, "notes", "production", "v2", "i", "ana",
        previous_version=previous,
    )  # fmt: skip
    assert headline(subject) == expected


def test_payloads_mask_a_secret_in_the_reason() -> None:
    MASK.add("hunter2-password")
    event = DeployEvent(
        "failed", "deploy", "notes", "production", "v2", "i", "ana",
        step="migrate", reason="could not connect as notes:hunter2-password@db",
    )  # fmt: skip
    formats: tuple[WebhookFormat, ...] = ("json", "slack")
    for format in formats:
        text = json.dumps(payload(event, format))
        assert "hunter2-password" not in text
        assert "[REDACTED]" in text
