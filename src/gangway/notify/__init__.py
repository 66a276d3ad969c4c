"""Deploy notifications: events, their webhook bodies, and a sender that never fails a deploy."""

from gangway.notify.payloads import (
    SCHEMA_VERSION,
    DeployEvent,
    headline,
    json_payload,
    payload,
    slack_payload,
)
from gangway.notify.webhooks import Delivery, Notifier, origin, selected

__all__ = [
    "SCHEMA_VERSION",
    "Delivery",
    "DeployEvent",
    "Notifier",
    "headline",
    "json_payload",
    "origin",
    "payload",
    "selected",
    "slack_payload",
]
