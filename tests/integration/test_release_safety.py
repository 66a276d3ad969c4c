"""Notifications and secrets on the real engine: a webhook receiver on 127.0.0.1 told about
real deploys, webhooks that hang or fail without holding a deploy up, a missing secret
under load (fault cell 12), and secret files in containers, locally and through ssh."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration import test_deploy
from tests.integration.conftest import docker
from tests.integration.test_deploy import Stage, assert_no_failures, snapshot, under_load

# The deploy tests' fixtures, shared rather than copied: releases v1..v3 and a stage.
release_images = test_deploy.release_images
stage = test_deploy.stage


class Receiver:
    """A webhook endpoint on 127.0.0.1: answers `status`, or hangs when `hang` is set;
    keeps every JSON body it was sent, with the time it arrived."""

    def __init__(self, status: int = 204, *, hang: bool = False) -> None:
        self.status = status
        self.hang = hang
        self.bodies: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.arrivals.append(time.monotonic())
                if receiver.hang:
                    receiver.released.wait(60)
                    return
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/s3cr3t-path"

    def events(self) -> list[str]:
        return [body["event"] for body in self.bodies]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def add_webhooks(stage: Stage, *urls: str, timeout: str = "2s", retries: int = 1) -> None:
    hooks = "".join(f'\n[[notifications.webhooks]]\nurl = "{url}"\n' for url in urls)
    with stage.config.open("a") as file:
        file.write(f'\n[notifications]\ntimeout = "{timeout}"\nretries = {retries}\n{hooks}')


def deploy(stage: Stage, version: str, **env: str) -> Any:
    return stage.gangway("deploy", "--env", "production", "--image", stage.images[version],
                         "--version", version, env=env)  # fmt: skip


def test_webhook_is_told_started_and_succeeded_then_failed_for_a_release_never_ready(
    stage: Stage, receiver: Receiver
) -> None:
    add_webhooks(stage, receiver.url)

    first = deploy(stage, "v1")
    assert first.returncode == 0, first.stderr
    assert receiver.events() == ["started", "succeeded"]
    started, succeeded = receiver.bodies
    assert started["duration_seconds"] is None
    for body in (started, succeeded):
        assert (body["app"], body["environment"], body["version"], body["actor"]) == (
            stage.app,
            "production",
            "v1",
            "integration-test",
        )
        assert body["image"] == stage.images["v1"]
    assert succeeded["duration_seconds"] > 0
    assert "notify: succeeded sent to 1 webhook(s)" in first.stderr
    assert "s3cr3t-path" not in first.stderr

    bad = deploy(stage, "v2", GANGWAY_ENVIRONMENTS__PRODUCTION__ENV__APP_FAULT="not-ready")
    assert bad.returncode == 1
    assert receiver.events()[2:] == ["started", "failed"]
    failed = receiver.bodies[3]
    assert (failed["version"], failed["step"], failed["previous_version"]) == ("v2", "ready", "v1")
    assert "did not answer 2xx" in failed["reason"]
    assert failed["duration_seconds"] > 0
    assert stage.live_version() == "v1"
    # the history names the same actor
    assert stage.status()["history"][-1]["who"] == "integration-test"


def test_a_hanging_and_a_failing_webhook_cost_a_deploy_at_most_their_budget(
    stage: Stage,
) -> None:
    with Receiver(hang=True) as hanging, Receiver(500) as failing:
        # budget per event: timeout 1s x (1 retry + 1) = 2s
        add_webhooks(stage, hanging.url, failing.url, timeout="1s", retries=1)
        began = time.monotonic()
        proc = deploy(stage, "v1")
        took = time.monotonic() - began

    assert proc.returncode == 0, proc.stderr
    assert stage.live_version() == "v1"
    assert hanging.events() == ["started", "started", "succeeded", "succeeded"]  # 2 tries each
    assert failing.events() == ["started", "started", "succeeded", "succeeded"]
    warnings = re.findall(
        r"notify: warning: webhook http://127\.0\.0\.1:\d+ was not told '(\w+)': (.+?) after "
        r"(\d) attempt\(s\) in ([\d.]+)s",
        proc.stderr,
    )
    seen = sorted((event, detail.split(" (")[0], n) for event, detail, n, _ in warnings)
    assert seen == [
        ("started", "HTTP 500", "2"),
        ("started", "timed out", "2"),
        ("succeeded", "HTTP 500", "2"),
        ("succeeded", "timed out", "2"),
    ]
    assert all(float(seconds) <= 2.3 for *_, seconds in warnings)
    assert "s3cr3t-path" not in proc.stderr
    # both events together cost about 2 x 2s, not 2 x (the hang)
    assert took < 60


@pytest.mark.fault(12)
def test_missing_secret_under_load_changes_nothing_and_the_next_deploy_succeeds(
    stage: Stage, receiver: Receiver
) -> None:
    """Fault cell 12."""
    add_webhooks(stage, receiver.url)
    stage.deploy("v1")
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        before = snapshot(stage)
        value = stage.environ.pop("DATABASE_URL")
        missing_env = deploy(stage, "v2")
        as_file = {
            "GANGWAY_ENVIRONMENTS__PRODUCTION__SECRETS": "[]",
            "GANGWAY_ENVIRONMENTS__PRODUCTION__SECRET_FILES": '["DATABASE_URL"]',
        }
        missing_file = deploy(stage, "v2", **as_file)
        after = snapshot(stage)
        status = stage.gangway("status", "--env", "production", "--json")
        stage.environ["DATABASE_URL"] = value
        load.wait_for_requests(len(load.samples()) + 300, timeout=60)
    for proc in (missing_env, missing_file):
        assert proc.returncode == 1, proc.stderr  # DeployFailed
        assert "error: secrets: missing secret(s) for production: DATABASE_URL" in proc.stderr
        assert "nothing on the host was changed" in proc.stderr
    assert after == before
    assert_no_failures(load.summary())
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert (report["live"]["version"], report["live"]["running"]) == ("v1", True)
    assert [h["version"] for h in report["history"]] == ["v1"]
    assert receiver.events()[-2:] == ["failed", "failed"]
    assert receiver.bodies[-1]["step"] == "secrets"

    stage.deploy("v2")
    assert stage.live_version() == "v2"


def file_secret_env(secrets_dir: Path) -> dict[str, str]:
    return {
        "GANGWAY_ENVIRONMENTS__PRODUCTION__SECRETS": "[]",
        "GANGWAY_ENVIRONMENTS__PRODUCTION__SECRET_FILES": '["DATABASE_URL"]',
        "GANGWAY_SECRETS_DIR": str(secrets_dir),
    }


def assert_value_nowhere(stage: Stage, value: str, *outputs: str) -> None:
    ids = docker("ps", "--all", "--quiet", "--filter", f"label=dev.gangway.app={stage.app}")
    inspected = docker("container", "inspect", *ids.split())
    assert value not in inspected  # not in env, labels, command, mounts
    images = {c["Image"] for c in json.loads(inspected)}
    assert value not in docker("image", "inspect", *images)
    assert value not in docker("history", "--no-trunc", *list(images)[:1])
    for output in outputs:
        assert value not in output


def test_a_secret_file_is_readable_in_the_container_and_nowhere_else(
    stage: Stage, tmp_path: Path
) -> None:
    value = stage.environ.pop("DATABASE_URL")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "DATABASE_URL").write_text(value + "\n")
    env = file_secret_env(secrets_dir)

    plan = stage.gangway("plan", "--env", "production", "--image", stage.images["v1"], env=env)
    assert plan.returncode == 0, plan.stderr
    assert "docker cp - " in plan.stdout
    proc = stage.gangway("deploy", "--env", "production", "--image", stage.images["v1"],
                         "--version", "v1", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # the app (and its migration before it) read the database URL from the file
    assert stage.live_version() == "v1"
    blue = f"{stage.app}-production-blue"
    assert docker("exec", blue, "cat", "/run/secrets/DATABASE_URL") == value
    config_env = json.loads(docker("inspect", "--format", "{{json .Config.Env}}", blue))
    assert "DATABASE_URL_FILE=/run/secrets/DATABASE_URL" in config_env
    assert docker("ps", "--all", "--quiet", "--filter", f"name={stage.app}-production-task") == ""
    status = stage.gangway("status", "--env", "production", "--json", env=env)
    history = stage.gangway("status", "--env", "production", env=env)
    assert_value_nowhere(
        stage, value, plan.stdout, plan.stderr, proc.stdout, proc.stderr,
        status.stdout, history.stdout,
    )  # fmt: skip


def test_a_secret_file_reaches_a_container_on_a_remote_engine_through_ssh(
    stage: Stage, tmp_path: Path
) -> None:
    from tests.support.sshd import SshServer

    value = stage.environ.pop("DATABASE_URL")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "DATABASE_URL").write_text(value)
    with SshServer() as ssh:
        env = {**ssh.docker_env(), **file_secret_env(secrets_dir),
               "GANGWAY_ENVIRONMENTS__PRODUCTION__DOCKER_HOST": ssh.docker_host}  # fmt: skip
        proc = stage.gangway("deploy", "--env", "production", "--image", stage.images["v1"],
                             "--version", "v1", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert stage.live_version() == "v1"
    blue = f"{stage.app}-production-blue"
    assert docker("exec", blue, "cat", "/run/secrets/DATABASE_URL") == value
    assert_value_nowhere(stage, value, proc.stdout, proc.stderr)
