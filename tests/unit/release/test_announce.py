"""Which notifications a deploy or rollback sends, on the fake host, to a recording webhook."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gangway.config import NotificationsConfig, WebhookConfig
from gangway.errors import DeployFailed, LockHeld
from gangway.notify import Notifier
from gangway.release.announce import Announcement
from gangway.release.deployer import Deployer
from gangway.release.secrets import SecretValues
from gangway.release.state import ReleaseRecord
from tests.support.fake_host import IMAGE_ID, TARGET, FakeHost

from .conftest import MakeDeployer

REPO = "127.0.0.1:5000/notes"
QUICK = {
    "environments.production.health.deploy_timeout": "250ms",
    "environments.production.health.interval": "50ms",
    "environments.production.watch.window": "300ms",
}
GREEN_LOG = "/var/lib/gangway/logs/green.log"


class Webhook:
    """A MockTransport receiver keeping each JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(204)

    def events(self) -> list[str]:
        return [body["event"] for body in self.bodies]


def announced(
    deployer: Deployer, action: str, version: str, image: str = ""
) -> tuple[Announcement, Webhook]:
    webhook = Webhook()
    config = NotificationsConfig(
        webhooks=[WebhookConfig.model_validate({"url": "https://hooks.example.com/T/x"})],
        timeout=timedelta(seconds=1),
        retries=0,
    )
    notifier = Notifier(config, log=lambda line: None, transport=httpx.MockTransport(webhook))
    return Announcement(notifier, deployer, action, version, image), webhook  # type: ignore[arg-type]


def live_blue(version: str = "2.0.0") -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", version)
    return fake


def run(announcement: Announcement, work: Callable[[], object]) -> None:
    with announcement.watching():
        work()


def test_a_deploy_that_succeeds_sends_started_then_succeeded(make_deployer: MakeDeployer) -> None:
    deployer = make_deployer(live_blue().executor(), overrides=QUICK)
    announcement, webhook = announced(deployer, "deploy", "2.1.0", f"{REPO}:2.1.0")

    run(announcement, lambda: deployer.deploy(f"{REPO}:2.1.0"))

    assert webhook.events() == ["started", "succeeded"]
    started, done = webhook.bodies
    assert (started["version"], started["actor"], started["duration_seconds"]) == (
        "2.1.0",
        "ana",
        None,
    )
    assert (done["app"], done["environment"], done["action"]) == ("notes", "production", "deploy")
    assert (done["version"], done["previous_version"], done["image"]) == (
        "2.1.0",
        "2.0.0",
        f"{REPO}:2.1.0",
    )
    assert done["duration_seconds"] is not None
    assert (done["step"], done["reason"]) == ("", "")
    assert done["url"] == "http://127.0.0.1:8081"


def test_a_release_that_never_becomes_healthy_sends_failed_with_its_step(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.health["notes-production-green"] = "unhealthy"
    deployer = make_deployer(fake.executor(), overrides=QUICK)
    announcement, webhook = announced(deployer, "deploy", "2.1.0")

    with pytest.raises(DeployFailed):
        run(announcement, lambda: deployer.deploy(f"{REPO}:2.1.0"))

    assert webhook.events() == ["started", "failed"]
    failed = webhook.bodies[1]
    assert failed["step"] == "health"
    assert "did not become healthy" in failed["reason"]
    assert failed["previous_version"] == "2.0.0"


def test_a_switch_back_in_the_watch_window_sends_rolled_back(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.served[GREEN_LOG] = "500\n" * 40
    deployer = make_deployer(fake.executor(), overrides=QUICK)
    announcement, webhook = announced(deployer, "deploy", "2.1.0")

    with pytest.raises(DeployFailed):
        run(announcement, lambda: deployer.deploy(f"{REPO}:2.1.0"))

    assert webhook.events() == ["started", "rolled_back"]
    body = webhook.bodies[1]
    assert (body["step"], body["version"], body["previous_version"]) == ("watch", "2.1.0", "2.0.0")
    assert "traffic went back" in body["reason"]


def test_gangway_rollback_sends_started_then_rolled_back(make_deployer: MakeDeployer) -> None:
    fake = live_blue("2.0.0")
    fake.add_app("green", "1.0.0", running=False)
    fake.add_history(
        *(
            ReleaseRecord(
                "deploy", v, f"{REPO}:{v}", IMAGE_ID, c, "succeeded", "bob", "ci", "2025", 20.0
            )
            for v, c in (("1.0.0", "green"), ("2.0.0", "blue"))
        )
    )
    deployer = make_deployer(fake.executor(), overrides=QUICK)
    announcement, webhook = announced(deployer, "rollback", "")

    run(announcement, deployer.rollback)

    assert webhook.events() == ["started", "rolled_back"]
    body = webhook.bodies[1]
    assert (body["action"], body["version"], body["previous_version"]) == (
        "rollback",
        "1.0.0",
        "2.0.0",
    )


def test_a_held_lock_sends_failed_at_lock_and_no_started(make_deployer: MakeDeployer) -> None:
    fake = live_blue()
    since = "2999-01-01T00:00:00+00:00"
    labels = TARGET.labels("lock", holder="bob@ci:1:2", host="ci", since=since)
    fake.add(TARGET.lock, labels, running=False)
    deployer = make_deployer(fake.executor())
    announcement, webhook = announced(deployer, "deploy", "2.1.0")

    with pytest.raises(LockHeld):
        run(announcement, lambda: deployer.deploy(f"{REPO}:2.1.0"))

    assert webhook.events() == ["failed"]
    assert webhook.bodies[0]["step"] == "lock"
    assert "locked by bob@ci" in webhook.bodies[0]["reason"]


def test_a_missing_secret_sends_failed_at_secrets_and_touches_nothing(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    executor = fake.executor()
    deployer = make_deployer(executor)
    announcement, webhook = announced(deployer, "deploy", "2.1.0")

    with pytest.raises(DeployFailed):
        run(announcement, lambda: SecretValues(missing=("DATABASE_URL",)).require("production"))

    assert webhook.events() == ["failed"]
    assert webhook.bodies[0]["step"] == "secrets"
    assert executor.commands == []


def test_a_notification_that_cannot_be_sent_does_not_change_the_outcome(
    make_deployer: MakeDeployer,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake = live_blue()
    deployer = make_deployer(fake.executor(), overrides=QUICK)
    config = NotificationsConfig(
        webhooks=[WebhookConfig.model_validate({"url": "http://127.0.0.1:9/hook"})],
        timeout=timedelta(seconds=0.2),
        retries=1,
    )
    lines: list[str] = []
    notifier = Notifier(config, log=lines.append, transport=httpx.MockTransport(refuse))
    announcement = Announcement(notifier, deployer, "deploy", "2.1.0")

    run(announcement, lambda: deployer.deploy(f"{REPO}:2.1.0"))

    assert fake.history()[-1]["outcome"] == "succeeded"
    assert len([line for line in lines if "warning" in line]) == 2  # started, succeeded
