"""The deployer on the real engine: zero-downtime deploys and rollbacks under load, bad
releases that leave the live color serving, the lock, plan, maintenance, and ssh."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gangway.config import PipelineConfig
from tests.integration.conftest import docker, wait_for
from tests.support.load import LoadGenerator, LoadSummary
from tests.support.pg import free_port

VERSIONS = ("v1", "v2", "v3")


@pytest.fixture(scope="session")
def release_images(app_image: str) -> Iterator[dict[str, str]]:
    """Three releases of the app: the same code, each with its own version baked in."""
    repository = f"gangway-test/deploy-{uuid.uuid4().hex[:8]}"
    images: dict[str, str] = {}
    for version in VERSIONS:
        tag = f"{repository}:{version}"
        dockerfile = f"FROM {app_image}\nENV APP_VERSION={version}\n"
        proc = subprocess.run(
            ["docker", "build", "--quiet", "--tag", tag, "-"],
            input=dockerfile,
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        images[version] = tag
    yield images
    docker("image", "rm", "--force", *images.values(), check=False)


@dataclass
class Stage:
    """One environment of a throw-away app: its config file, database and gangway runner."""

    app: str
    config: Path
    port: int
    preview_port: int
    environ: dict[str, str]
    images: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gangway(self, *args: str, env: dict[str, str] | None = None,
                timeout: float = 180) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "gangway", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env={**self.environ, **(env or {})},
            timeout=timeout,
            check=False,
        )

    def start_deploy(self, version: str, **env: str) -> subprocess.Popen[str]:
        """A deploy in the background, returned once it holds the lock."""
        process = subprocess.Popen(
            [sys.executable, "-m", "gangway", "--config", str(self.config), "deploy", "--env",
             "production", "--image", self.images[version], "--version", version],
            env={**self.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for("the first deploy to take the lock",
                 lambda: "locked by" in self.gangway("lock", "status", "--env",
                                                     "production").stdout)  # fmt: skip
        return process

    def deploy(self, version: str, *, env: dict[str, str] | None = None) -> None:
        proc = self.gangway("deploy", "--env", "production", "--image", self.images[version],
                            "--version", version, env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr

    def status(self) -> dict[str, Any]:
        proc = self.gangway("status", "--env", "production", "--json")
        assert proc.returncode == 0, proc.stderr
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def live_version(self) -> str:
        response = httpx.get(f"{self.url}/health", timeout=5)
        version: str = response.json()["version"]
        return version


def write_config(path: Path, app: str, port: int, preview: int, pipeline: PipelineConfig) -> None:
    path.write_text(
        f"""
[app]
name = "{app}"

[proxy]
image = "{pipeline.proxy.image}"

[environments.staging]
port = {free_port()}
preview_port = {free_port()}

[environments.production]
port = {port}
preview_port = {preview}
pull = "never"
secrets = ["DATABASE_URL"]
retain = 3
lock_timeout = "10m"

[environments.production.env]
APP_ENV = "production"
SHUTDOWN_TIMEOUT = "15"

[environments.production.health]
deploy_timeout = "20s"
drain_timeout = "15s"

[environments.production.watch]
window = "1s"
"""
    )


@pytest.fixture
def stage(
    tmp_path: Path, pipeline: PipelineConfig, release_images: dict[str, str], base_images: None
) -> Iterator[Stage]:
    app = f"gw{uuid.uuid4().hex[:8]}"
    network = f"{app}-production"
    port, preview = free_port(), free_port()
    config = tmp_path / "pipeline.toml"
    write_config(config, app, port, preview, pipeline)
    password = secrets.token_urlsafe(12)
    # The database accessory is issue 4's; here the test provides it on the env's network.
    docker("network", "create", "--label", f"dev.gangway.app={app}", network)
    docker(
        "run", "--detach", "--pull=never", "--name", f"{app}-db", "--network", network,
        "--env", "POSTGRES_USER=notes", "--env", "POSTGRES_DB=notes",
        "--env", f"POSTGRES_PASSWORD={password}", pipeline.database.image,
    )  # fmt: skip
    wait_for(
        "the database",
        lambda: (
            subprocess.run(
                [
                    "docker",
                    "exec",
                    f"{app}-db",
                    "pg_isready",
                    "--host=127.0.0.1",
                    "--username=notes",
                ],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        ),
    )
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GANGWAY_ENV")}
    environ["DATABASE_URL"] = f"postgresql://notes:{password}@{app}-db:5432/notes"
    environ["GANGWAY_ACTOR"] = "integration-test"
    try:
        yield Stage(app, config, port, preview, environ, dict(release_images))
    finally:
        ids = docker("ps", "--all", "--quiet", "--filter", f"label=dev.gangway.app={app}",
                     check=False).split()  # fmt: skip
        docker("rm", "--force", "--volumes", f"{app}-db", *ids, check=False)
        # state, backups (made before each migration), an accessory's data and secrets
        volumes = docker("volume", "ls", "--quiet", "--filter", f"name={app}-", check=False)
        docker("volume", "rm", *volumes.split(), check=False)
        docker("network", "rm", network, check=False)


def assert_no_failures(summary: LoadSummary) -> None:
    assert summary.failed == 0, summary.line()
    assert summary.non_2xx == 0, summary.line()
    assert summary.slow_failed == 0, summary.line()


def under_load(stage: Stage) -> LoadGenerator:
    return LoadGenerator(
        stage.url,
        clients=4,
        paths=("/health", "/notes?limit=5", "/ready"),
        slow_path="/slow?seconds=2",
        slow_every=0.5,
        max_seconds=300,
    )


def test_deploys_and_rollback_under_load_lose_no_request(stage: Stage) -> None:
    stage.deploy("v1")
    assert stage.live_version() == "v1"
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        for version in ("v2", "v3"):
            before = len(load.samples())
            stage.deploy(version)
            load.wait_for_requests(before + 2000, timeout=120)
            assert stage.live_version() == version
        before = len(load.samples())
        proc = stage.gangway("rollback", "--env", "production")
        assert proc.returncode == 0, proc.stderr
        load.wait_for_requests(before + 2000, timeout=120)
        assert stage.live_version() == "v2"
    summary = load.summary()
    assert_no_failures(summary)
    assert summary.requests >= 6000
    assert summary.slow_completed > 0

    status = stage.status()
    assert status["live"]["version"] == "v2"
    assert [(h["action"], h["version"], h["outcome"]) for h in status["history"]] == [
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "succeeded"),
        ("deploy", "v3", "succeeded"),
        ("rollback", "v2", "succeeded"),
    ]
    # the release rolled back from is stopped and kept for a rollback the other way
    containers = {c["color"]: c for c in status["containers"]}
    assert {c["version"] for c in containers.values()} == {"v2", "v3"}


@pytest.mark.parametrize(
    ("fault", "step", "words"),
    [
        pytest.param("crash", "start", "crashed at start", marks=pytest.mark.fault(1)),
        pytest.param("unhealthy", "health", "did not become healthy", marks=pytest.mark.fault(2)),
        pytest.param("not-ready", "ready", "APP_FAULT=not-ready", marks=pytest.mark.fault(3)),
    ],
)
def test_bad_release_fails_and_live_color_keeps_serving(
    stage: Stage, fault: str, step: str, words: str
) -> None:
    stage.deploy("v1")
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        proc = stage.gangway(
            "deploy", "--env", "production", "--image", stage.images["v2"], "--version", "v2",
            # A bad release is bad at once: no need to wait the fixture's 20 s to say so.
            env={"GANGWAY_ENVIRONMENTS__PRODUCTION__ENV__APP_FAULT": fault,
                 "GANGWAY_ENVIRONMENTS__PRODUCTION__HEALTH__DEPLOY_TIMEOUT": "8s"},
        )  # fmt: skip
        assert stage.live_version() == "v1"
    assert proc.returncode == 1, proc.stderr
    assert f"error: {step}:" in proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr
    assert_no_failures(load.summary())

    status = stage.status()
    assert status["live"]["version"] == "v1"
    last = status["history"][-1]
    assert (last["version"], last["outcome"], last["step"]) == ("v2", "failed", step)
    # and the next normal deploy goes through
    stage.deploy("v2")
    assert stage.live_version() == "v2"


@pytest.mark.fault(5)
def test_5xx_burst_after_the_switch_goes_back_within_the_watch_window(stage: Stage) -> None:
    stage.deploy("v1")
    with LoadGenerator(stage.url, clients=4, paths=("/notes?limit=5", "/health"),
                       max_seconds=300) as load:  # fmt: skip
        load.wait_for_requests(200, timeout=60)
        began = load.mark("deploy")
        proc = stage.gangway(
            "deploy", "--env", "production", "--image", stage.images["v2"], "--version", "v2",
            env={"GANGWAY_ENVIRONMENTS__PRODUCTION__ENV__APP_FAULT": "errors",
                 "GANGWAY_ENVIRONMENTS__PRODUCTION__WATCH__WINDOW": "20s"},
        )  # fmt: skip
        ended = load.mark("returned")
        after = len(load.samples())
        load.wait_for_requests(after + 500, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "error: watch: green answered" in proc.stderr
    assert "traffic went back to the previous release" in proc.stderr
    assert stage.live_version() == "v1"

    # errors happened (the fault is real) but only while v2 was live: none before the
    # deploy, none after gangway returned, and far fewer than the window could have held
    during = load.summary(began, ended)
    assert 0 < during.failed < during.requests
    assert load.summary(None, began).failed == 0
    assert load.summary(ended, None).failed == 0
    status = stage.status()
    assert status["live"]["version"] == "v1"
    last = status["history"][-1]
    assert (last["version"], last["outcome"], last["step"]) == ("v2", "rolled_back", "watch")


def test_a_removed_router_comes_back_with_the_hosts_live_color_and_history(
    stage: Stage,
) -> None:
    stage.deploy("v1")  # live: blue
    docker("rm", "--force", f"{stage.app}-production-router")

    stage.deploy("v2")

    # the recreated router read the volume: v1 was live on blue, so v2 went to green and
    # v1 was retired and kept, not replaced as if nothing had been live
    status = stage.status()
    assert (status["live"]["version"], status["live"]["color"]) == ("v2", "green")
    assert {(c["color"], c["version"]) for c in status["containers"]} == {
        ("blue", "v1"),
        ("green", "v2"),
    }
    assert [(h["version"], h["previous_version"]) for h in status["history"]] == [
        ("v1", ""),
        ("v2", "v1"),
    ]
    assert stage.live_version() == "v2"


@pytest.mark.fault(8)
def test_second_deploy_exits_3_naming_the_holder(stage: Stage) -> None:
    stage.deploy("v1")
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        holder = stage.start_deploy("v2", GANGWAY_ACTOR="first-deployer")
        try:
            second = stage.gangway("deploy", "--env", "production", "--image", stage.images["v3"])
            assert second.returncode == 3
            assert "locked by first-deployer@" in second.stderr
        finally:
            _, err = holder.communicate(timeout=120)
        assert holder.returncode == 0, err
        after = len(load.samples())
        load.wait_for_requests(after + 300, timeout=60)
    assert_no_failures(load.summary())
    assert stage.live_version() == "v2"


def test_lock_wait_queues_behind_a_running_deploy(stage: Stage) -> None:
    stage.deploy("v1")
    first = stage.start_deploy("v2")
    second = stage.gangway("deploy", "--env", "production", "--image", stage.images["v3"],
                           "--version", "v3", "--lock-wait", "2m")  # fmt: skip
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode == 0, second.stderr
    assert "waiting for" in second.stderr
    assert stage.live_version() == "v3"


def test_stale_lock_of_a_dead_deployer_is_taken_over(stage: Stage) -> None:
    stage.deploy("v1")
    docker(
        "create", "--pull=never", "--name", f"{stage.app}-production-lock",
        "--label", f"dev.gangway.app={stage.app}", "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=lock", "--label", "dev.gangway.holder=ghost@gone:1",
        "--label", "dev.gangway.since=2020-01-01T00:00:00+00:00",
        "--entrypoint", "true", stage.images["v1"],
    )  # fmt: skip
    stage.deploy("v2")
    assert stage.live_version() == "v2"
    assert "unlocked" in stage.gangway("lock", "status", "--env", "production").stdout


def snapshot(stage: Stage) -> str:
    """`docker ps -a` (ids, names, states, creation times) and the volumes and networks of
    the stage's app: other tests on this engine come and go meanwhile, so only ours count."""
    label = f"label=dev.gangway.app={stage.app}"
    return "\n".join([
        docker("ps", "--all", "--no-trunc", "--filter", label, "--format",
               "{{.ID}} {{.Names}} {{.State}} {{.Image}} {{.CreatedAt}}"),
        docker("volume", "ls", "--quiet", "--filter", f"name={stage.app}"),
        docker("network", "ls", "--quiet", "--filter", f"name={stage.app}"),
    ])  # fmt: skip


def test_plan_prints_commands_and_changes_nothing(stage: Stage) -> None:
    before = snapshot(stage)
    fresh = stage.gangway("plan", "--env", "production", "--image", stage.images["v1"])
    assert fresh.returncode == 0, fresh.stderr
    assert snapshot(stage) == before
    assert "docker run --detach" in fresh.stdout
    assert f"--name {stage.app}-production-blue" in fresh.stdout
    assert "(nothing live yet)" in fresh.stdout

    stage.deploy("v1")
    before = snapshot(stage)
    live = stage.gangway("plan", "--env", "production", "--image", stage.images["v2"])
    assert live.returncode == 0, live.stderr
    assert snapshot(stage) == before
    assert "live: blue v1" in live.stdout
    assert f"{stage.app}-production-green" in live.stdout
    assert "# wait until" in live.stdout
    assert stage.environ["DATABASE_URL"] not in live.stdout  # secrets are passed by name


def test_maintenance_serves_503_with_retry_after_then_comes_back(stage: Stage) -> None:
    stage.deploy("v1")
    assert stage.gangway("maintenance", "on", "--env", "production").returncode == 0
    response = httpx.get(f"{stage.url}/health", timeout=5)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    # the app containers were not touched
    assert stage.status()["live"]["running"] is True
    assert stage.gangway("maintenance", "off", "--env", "production").returncode == 0
    assert httpx.get(f"{stage.url}/health", timeout=5).status_code == 200


def test_rollback_recreates_a_pruned_release_from_its_image(stage: Stage) -> None:
    for version in VERSIONS:
        stage.deploy(version)
    # v1's container was replaced by v3 (same color); its image is still on the host
    proc = stage.gangway("rollback", "--env", "production", "--to", "v1")
    assert proc.returncode == 0, proc.stderr
    assert "recreated from its image" in proc.stderr
    assert stage.live_version() == "v1"


def test_releases_beyond_retain_are_pruned_but_never_live_or_kept_ones(stage: Stage) -> None:
    # own tags, as pruning removes them
    tags = {v: f"{stage.images[v].rsplit(':', 1)[0]}:prune-{v}" for v in VERSIONS}
    for version, tag in tags.items():
        docker("tag", stage.images[version], tag)
    stage.images.update(tags)
    # the tags are on the host before their deploys: only prune = "all" removes them
    env = {"GANGWAY_ENVIRONMENTS__PRODUCTION__RETAIN": "2",
           "GANGWAY_ENVIRONMENTS__PRODUCTION__PRUNE": "all"}  # fmt: skip
    for version in VERSIONS:
        stage.deploy(version, env=env)
    present = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    assert tags["v1"] not in present
    assert tags["v2"] in present
    assert tags["v3"] in present
    proc = stage.gangway("rollback", "--env", "production", "--to", "v1", env=env)
    assert proc.returncode == 1
    assert "neither a kept container nor its image" in proc.stderr
    assert "available: v2" in proc.stderr
    assert stage.live_version() == "v3"


def test_rollback_to_unknown_version_lists_what_is_available(stage: Stage) -> None:
    stage.deploy("v1")
    stage.deploy("v2")
    proc = stage.gangway("rollback", "--env", "production", "--to", "v9")
    assert proc.returncode == 1
    assert "no successful release 'v9'" in proc.stderr
    assert "available: v1" in proc.stderr
    assert stage.live_version() == "v2"


@pytest.mark.fault(12)
def test_missing_secret_stops_the_deploy_before_anything_changes(stage: Stage) -> None:
    before = snapshot(stage)
    env = {k: v for k, v in stage.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "gangway", "--config", str(stage.config), "deploy", "--env",
         "production", "--image", stage.images["v1"]],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "missing secret(s) for production: DATABASE_URL" in proc.stderr
    assert snapshot(stage) == before


def test_deploy_through_ssh_docker_host(stage: Stage) -> None:
    from tests.support.sshd import SshServer

    with SshServer() as ssh:
        env = {**ssh.docker_env(), "DATABASE_URL": stage.environ["DATABASE_URL"],
               "GANGWAY_ENVIRONMENTS__PRODUCTION__DOCKER_HOST": ssh.docker_host}  # fmt: skip
        proc = stage.gangway("deploy", "--env", "production", "--image", stage.images["v1"],
                             "--version", "v1", env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        status = stage.gangway("status", "--env", "production", "--json", env=env)
    assert json.loads(status.stdout)["live"]["version"] == "v1"
    assert stage.live_version() == "v1"
