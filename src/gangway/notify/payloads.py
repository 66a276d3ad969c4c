"""What a webhook is told: the deploy event, and its Slack and generic JSON bodies (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from gangway.config.types import Event, WebhookFormat
from gangway.masking import redact

#: Bumped only when a key of the JSON body changes meaning or goes away.
SCHEMA_VERSION: Final = 1
Action = Literal["deploy", "rollback", "pipeline"]


@dataclass(frozen=True)
class DeployEvent:
    """One moment of a deploy or rollback, with everything a receiver shows."""

    event: Event
    action: Action
    app: str
    environment: str
    version: str
    image: str
    actor: str
    previous_version: str = ""
    duration_seconds: float | None = None
    step: str = ""
    reason: str = ""
    url: str = ""
    timestamp: str = ""

    def __post_init__(self) -> None:
        if not self.timestamp:
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            object.__setattr__(self, "timestamp", now)


def json_payload(event: DeployEvent) -> dict[str, Any]:
    """The generic JSON body: a flat object whose keys are always present
    (docs/notifications.md); texts are masked, missing texts are "" and an unknown duration
    null."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event": event.event,
        "action": event.action,
        "app": event.app,
        "environment": event.environment,
        "version": event.version,
        "previous_version": event.previous_version,
        "image": event.image,
        "duration_seconds": None
        if event.duration_seconds is None
        else round(event.duration_seconds, 1),
        "actor": event.actor,
        "step": event.step,
        "reason": redact(event.reason),
        "url": event.url,
        "timestamp": event.timestamp,
    }


_COLORS: Final[dict[str, str]] = {
    "started": "#439FE0",
    "succeeded": "good",
    "failed": "danger",
    "rolled_back": "warning",
}
_ICONS: Final[dict[str, str]] = {
    "started": ":rocket:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "rolled_back": ":leftwards_arrow_with_hook:",
}


def headline(event: DeployEvent) -> str:
    """One sentence saying what happened, e.g. `notes v2 is live on production`."""
    what = f"{event.app} {event.version or 'the previous release'}"
    where = event.environment
    if event.event == "started":
        verb = "deploy" if event.action == "deploy" else "rollback"
        return f"{verb} of {what} to {where} started"
    if event.event == "succeeded":
        return f"{what} is live on {where}"
    if event.event == "failed":
        at = f" at {event.step}" if event.step else ""
        if event.action == "pipeline":
            return f"pipeline of {what} toward {where} stopped{at}"
        verb = "deploy" if event.action == "deploy" else "rollback"
        return f"{verb} of {what} to {where} failed{at}"
    if event.action == "rollback":
        return f"{where} rolled back to {what}"
    back = f"; {event.previous_version} is live again" if event.previous_version else ""
    return f"{what} was rolled back on {where}{back}"


def _escape(text: str) -> str:
    # Slack's three control characters in message text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: DeployEvent) -> dict[str, Any]:
    """A Slack-compatible body (also read by Mattermost, Rocket.Chat and others): a `text`
    line, and an attachment colored by outcome with one field per fact."""
    text = f"{_ICONS[event.event]} {_escape(headline(event))}"
    fields = [
        ("Environment", event.environment, True),
        ("Version", event.version or "previous", True),
        ("Outcome", event.event.replace("_", " "), True),
        ("By", event.actor, True),
    ]
    if event.duration_seconds is not None:
        fields.append(("Duration", f"{event.duration_seconds:.1f}s", True))
    if event.previous_version:
        fields.append(("Previous version", event.previous_version, True))
    if event.step:
        fields.append(("Failing step", event.step, True))
    if event.reason:
        fields.append(("Reason", redact(event.reason), False))
    if event.image:
        fields.append(("Image", event.image, False))
    return {
        "text": text,
        "attachments": [
            {
                "fallback": text,
                "color": _COLORS[event.event],
                "fields": [
                    {"title": title, "value": _escape(value), "short": short}
                    for title, value, short in fields
                ],
                "footer": f"gangway {event.action} · {event.timestamp}",
            }
        ],
    }


def payload(event: DeployEvent, format: WebhookFormat) -> dict[str, Any]:
    """The body a webhook of `format` gets."""
    return slack_payload(event) if format == "slack" else json_payload(event)
