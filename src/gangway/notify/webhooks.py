"""Posting deploy events to webhooks: bounded in time, never an error for the deploy.

Each webhook gets one POST, retried on a transport error, a timeout, a 5xx or a 429
(after `Retry-After` when it says so, else a short doubling backoff), never on any
other status. All of a webhook's attempts share one budget of `timeout × (retries + 1)`
seconds, and the webhooks are told at the same time, so a hanging endpoint costs a
deploy at most that budget. A webhook that could not be told is one warning line, its
URL shown as scheme and host only (the rest usually holds a token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import anyio
import httpx

from gangway.config.model import NotificationsConfig, WebhookConfig
from gangway.masking import redact
from gangway.notify.payloads import DeployEvent, payload

FIRST_BACKOFF: Final = 0.25
RETRIED_STATUSES: Final = frozenset({429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class Delivery:
    """How telling one webhook went."""

    webhook: str  # scheme://host[:port] only
    ok: bool
    attempts: int
    detail: str  # `HTTP 204`, `HTTP 500`, `timed out`, `connection refused`, ...
    elapsed: float


def origin(url: str) -> str:
    """`https://hooks.example.com` of a webhook URL: no path, query or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def selected(config: NotificationsConfig, event: DeployEvent) -> list[WebhookConfig]:
    """The webhooks that want this event of this environment."""
    return [
        hook
        for hook in config.webhooks
        if event.event in hook.events and event.environment in hook.environments
    ]


class Notifier:
    """Tells the configured webhooks about deploy events; `notify` never raises."""

    def __init__(
        self,
        config: NotificationsConfig,
        *,
        log: Callable[[str], None],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.transport = transport

    @property
    def budget(self) -> float:
        """The most one event may cost a deploy, in seconds."""
        return self.config.timeout.total_seconds() * (self.config.retries + 1)

    def notify(self, event: DeployEvent) -> list[Delivery]:
        """POST the event to every webhook that wants it; log failures, raise nothing."""
        hooks = selected(self.config, event)
        if not hooks:
            return []
        began = time.monotonic()
        try:
            deliveries = anyio.run(self._deliver_all, hooks, event)
        except Exception as exc:  # noqa: BLE001 - a notification must never fail a deploy
            self.log(f"notify: warning: {event.event} not sent: {type(exc).__name__}: "
                     f"{redact(str(exc))}")  # fmt: skip
            return []
        told = sum(delivery.ok for delivery in deliveries)
        for delivery in deliveries:
            if not delivery.ok:
                self.log(
                    f"notify: warning: webhook {delivery.webhook} was not told '{event.event}': "
                    f"{delivery.detail} after {delivery.attempts} attempt(s) in "
                    f"{delivery.elapsed:.1f}s (the deploy goes on)"
                )
        if told:
            self.log(f"notify: {event.event} sent to {told} webhook(s) "
                     f"({time.monotonic() - began:.1f}s)")  # fmt: skip
        return deliveries

    async def _deliver_all(
        self, hooks: Sequence[WebhookConfig], event: DeployEvent
    ) -> list[Delivery]:
        results: list[Delivery] = []
        async with httpx.AsyncClient(transport=self.transport) as client:

            async def one(hook: WebhookConfig) -> None:
                url = hook.url.get_secret_value()
                began = time.monotonic()
                try:
                    results.append(await self._deliver(client, hook, event))
                except Exception as exc:  # noqa: BLE001 - one webhook's bug spares the others
                    detail = f"{type(exc).__name__}: {redact(str(exc))}"
                    results.append(
                        Delivery(origin(url), False, 1, detail, time.monotonic() - began)
                    )

            async with anyio.create_task_group() as group:
                for hook in hooks:
                    group.start_soon(one, hook)
        order = [origin(hook.url.get_secret_value()) for hook in hooks]
        return sorted(results, key=lambda delivery: order.index(delivery.webhook))

    async def _deliver(
        self, client: httpx.AsyncClient, hook: WebhookConfig, event: DeployEvent
    ) -> Delivery:
        url = hook.url.get_secret_value()
        body = payload(event, hook.format)
        timeout = self.config.timeout.total_seconds()
        began = time.monotonic()
        deadline = began + self.budget
        attempts = 0
        detail = "not sent"
        backoff = FIRST_BACKOFF
        while True:
            attempts += 1
            wait = backoff
            # One deadline for the whole attempt: httpx's timeouts are per read, so an
            # endpoint that drips its answer would otherwise never time out.
            with anyio.move_on_after(max(0.0, min(timeout, deadline - time.monotonic()))):
                detail = "timed out"
                try:
                    response = await client.post(url, json=body, timeout=timeout)
                except httpx.TimeoutException:
                    pass
                except httpx.ConnectError:
                    detail = "connection refused or host unreachable"
                except httpx.HTTPError as exc:
                    detail = type(exc).__name__
                else:
                    detail = f"HTTP {response.status_code}"
                    if response.is_success:
                        elapsed = time.monotonic() - began
                        return Delivery(origin(url), True, attempts, detail, elapsed)
                    if response.status_code not in RETRIED_STATUSES:
                        break
                    after = _retry_after(response)
                    wait = backoff if after is None else after
            left = deadline - time.monotonic()
            if attempts > self.config.retries or left <= 0:
                break
            await anyio.sleep(min(wait, left))
            backoff *= 2
        if attempts <= self.config.retries and time.monotonic() >= deadline:
            detail += f" (time budget of {self.budget:g}s spent)"
        return Delivery(origin(url), False, attempts, detail, time.monotonic() - began)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
