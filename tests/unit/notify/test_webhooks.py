"""The webhook sender on httpx.MockTransport: retries, time budget, filtering, never raising."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from gangway.config import NotificationsConfig, WebhookConfig
from gangway.notify import DeployEvent, Notifier, origin, selected

URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token"
EVENT = DeployEvent("failed", "deploy", "notes", "production", "v2", "notes:v2", "ana", step="x")


def config(*hooks: dict[str, Any], timeout: float = 1.0, retries: int = 2) -> NotificationsConfig:
    return NotificationsConfig(
        webhooks=[WebhookConfig.model_validate({"url": URL, **hook}) for hook in hooks]
        or [WebhookConfig.model_validate({"url": URL})],
        timeout=timedelta(seconds=timeout),
        retries=retries,
    )


class Receiver:
    """Answers each POST from a script of statuses (or exceptions), recording the bodies."""

    def __init__(self, *answers: int | type[Exception] | Callable[[], Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, int):
            return httpx.Response(answer)
        if isinstance(answer, type):
            raise answer("boom", request=request)
        await answer()
        return httpx.Response(200)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


def notifier(conf: NotificationsConfig, receiver: Receiver, log: list[str]) -> Notifier:
    return Notifier(conf, log=log.append, transport=httpx.MockTransport(receiver))


def test_a_2xx_is_one_post_of_the_json_body_and_one_progress_line() -> None:
    receiver, log = Receiver(204), list[str]()
    [delivery] = notifier(config(), receiver, log).notify(EVENT)
    assert (delivery.ok, delivery.attempts, delivery.detail) == (True, 1, "HTTP 204")
    assert str(receiver.requests[0].url) == URL
    assert receiver.requests[0].headers["content-type"] == "application/json"
    assert receiver.bodies()[0]["event"] == "failed"
    assert len(log) == 1
    assert log[0].startswith("notify: failed sent to 1 webhook(s)")


def test_slack_format_posts_the_slack_body() -> None:
    receiver: Receiver = Receiver(200)
    notifier(config({"format": "slack"}), receiver, []).notify(EVENT)
    assert "attachments" in receiver.bodies()[0]


def test_5xx_and_429_and_connection_errors_are_retried_until_a_2xx() -> None:
    receiver, log = Receiver(500, 429, httpx.ConnectError, 200), list[str]()
    [delivery] = notifier(config(retries=3), receiver, log).notify(EVENT)
    assert (delivery.ok, delivery.attempts) == (True, 4)
    assert not any("warning" in line for line in log)


def test_a_4xx_is_not_retried_and_is_one_warning_line_with_the_url_masked() -> None:
    receiver, log = Receiver(404), list[str]()
    [delivery] = notifier(config(), receiver, log).notify(EVENT)
    assert (delivery.ok, delivery.attempts, delivery.detail) == (False, 1, "HTTP 404")
    assert log == [
        "notify: warning: webhook https://hooks.example.com was not told 'failed': HTTP 404 "
        f"after 1 attempt(s) in {delivery.elapsed:.1f}s (the deploy goes on)"
    ]
    assert "s3cr3t-token" not in "".join(log)


def test_retries_are_bounded_by_the_config() -> None:
    receiver, log = Receiver(503), list[str]()
    [delivery] = notifier(config(retries=2), receiver, log).notify(EVENT)
    assert (delivery.ok, delivery.attempts, delivery.detail) == (False, 3, "HTTP 503")
    assert len(receiver.requests) == 3
    # a doubling backoff between attempts
    gaps = [b - a for a, b in zip(receiver.times, receiver.times[1:], strict=False)]
    assert gaps[0] >= 0.2
    assert gaps[1] >= 0.4


def test_retry_after_of_a_429_is_honoured_within_the_budget() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200)])
    requests: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(time.monotonic())
        return next(answers)

    conf = config()
    deliveries = Notifier(
        conf, log=list[str]().append, transport=httpx.MockTransport(handler)
    ).notify(EVENT)
    assert deliveries[0].ok
    assert requests[1] - requests[0] < 0.2  # Retry-After: 0 instead of the 0.25s backoff


def test_a_hanging_endpoint_costs_at_most_the_budget() -> None:
    async def hang() -> None:
        await anyio.sleep(60)

    receiver, log = Receiver(hang), list[str]()
    sender = notifier(config(timeout=0.3, retries=2), receiver, log)
    began = time.monotonic()
    [delivery] = sender.notify(EVENT)
    took = time.monotonic() - began
    assert sender.budget == pytest.approx(0.9)
    assert not delivery.ok
    assert delivery.detail.startswith("timed out")
    assert took < sender.budget + 0.5
    assert "timed out" in log[0]


def test_a_slow_endpoint_is_cut_by_the_request_timeout_and_retried() -> None:
    calls = 0

    async def slow_once() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await anyio.sleep(60)

    receiver, log = Receiver(slow_once), list[str]()
    [delivery] = notifier(config(timeout=0.3, retries=2), receiver, log).notify(EVENT)
    assert (delivery.ok, delivery.attempts) == (True, 2)


def test_webhooks_are_told_at_the_same_time_so_one_hanging_does_not_delay_another() -> None:
    async def hang() -> None:
        await anyio.sleep(60)

    other = "https://other.example.org/hook"
    conf = NotificationsConfig(
        webhooks=[WebhookConfig.model_validate({"url": u}) for u in (URL, other)],
        timeout=timedelta(seconds=0.5),
        retries=1,
    )
    answered: list[float] = []
    began = time.monotonic()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hooks.example.com":
            await hang()
        answered.append(time.monotonic() - began)
        return httpx.Response(200)

    deliveries = Notifier(
        conf, log=list[str]().append, transport=httpx.MockTransport(handler)
    ).notify(EVENT)
    assert [d.ok for d in deliveries] == [False, True]
    assert answered[0] < 0.3
    assert time.monotonic() - began < 1.5


def test_events_and_environments_filter_the_webhooks() -> None:
    conf = config(
        {"events": ["failed", "rolled_back"], "environments": ["production"]},
        {"events": ["succeeded"]},
        {"environments": ["staging"]},
    )
    assert len(selected(conf, EVENT)) == 1
    staging_ok = DeployEvent("succeeded", "deploy", "notes", "staging", "v2", "i", "ana")
    assert len(selected(conf, staging_ok)) == 2
    receiver: Receiver = Receiver(200)
    started = DeployEvent("started", "deploy", "notes", "production", "v2", "i", "ana")
    assert notifier(conf, receiver, []).notify(started) == []
    assert receiver.requests == []


def test_no_webhooks_sends_nothing_and_logs_nothing() -> None:
    log: list[str] = []
    sender = Notifier(NotificationsConfig(), log=log.append)
    assert sender.notify(EVENT) == []
    assert log == []


def test_an_unexpected_error_is_one_warning_never_raised() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a transport")

    log: list[str] = []
    sender = Notifier(config(), log=log.append, transport=httpx.MockTransport(broken))
    [delivery] = sender.notify(EVENT)
    assert (delivery.ok, delivery.detail) == (False, "RuntimeError: a bug in a transport")
    assert log[0].startswith(
        "notify: warning: webhook https://hooks.example.com was not told 'failed': "
        "RuntimeError: a bug in a transport after 1 attempt(s)"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com"),
        ("http://user:pass@127.0.0.1:8099/hook?token=1", "http://127.0.0.1:8099"),
        ("http://[::1]:9/x", "http://[::1]:9"),
    ],
)
def test_origin_shows_scheme_and_host_only(url: str, shown: str) -> None:
    assert origin(url) == shown
