"""The development compose file: the app with hot reload on PostgreSQL, run for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gangway.config import PipelineConfig
from tests.integration.conftest import wait_for
from tests.support.pg import free_port
from tests.support.worktree import copy_checkout


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) where it exists, else the standalone docker-compose."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail(
        "the compose tests need Docker Compose: install the compose plugin or "
        "`apt-get install docker-compose`",
        pytrace=False,
    )


class Compose:
    def __init__(self, checkout: Path, project: str, env: dict[str, str]) -> None:
        self.argv = [*compose_command(), "-f", str(checkout / "docker/compose.yaml")]
        self.argv += ["-p", project]
        self.env = env

    def __call__(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            [*self.argv, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}",
                pytrace=False,
            )
        return proc.stdout


@pytest.fixture
def dev_stack(
    base_images: None, pipeline: PipelineConfig, tmp_path: Path
) -> Iterator[tuple[Compose, Path, int]]:
    checkout = copy_checkout(tmp_path / "checkout")
    port = free_port()
    image = pipeline.image
    env = {
        **os.environ,
        "APP_PORT": str(port),
        "APP_IMAGE": f"gangway-test/notes-dev:{uuid.uuid4().hex[:8]}",
        "BASE_IMAGE": image.base_image,
        "BUILDER_IMAGE": image.builder_image,
        "PIP_NO_INDEX": "1" if image.pip_no_index else "0",
        "DATABASE_IMAGE": pipeline.database.image,
        "DOCKER_BUILDKIT": "0",
        "COMPOSE_DOCKER_CLI_BUILD": "0",
    }
    compose = Compose(checkout, f"gangwaytest{uuid.uuid4().hex[:8]}", env)
    try:
        compose("up", "--detach", "--build", timeout=900)
        yield compose, checkout, port
    finally:
        subprocess.run(
            [*compose.argv, "down", "--volumes", "--rmi", "local", "--timeout", "5"],
            capture_output=True,
            env=env,
            timeout=180,
            check=False,
        )
        subprocess.run(["docker", "image", "rm", "--force", env["APP_IMAGE"]],
                       capture_output=True, check=False)  # fmt: skip


def health_ok(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=3).status_code == 200
    except httpx.TransportError:
        return False


def test_compose_runs_migrated_app_that_reloads_on_code_change(
    dev_stack: tuple[Compose, Path, int],
) -> None:
    compose, checkout, port = dev_stack
    wait_for("the compose app to answer /health", lambda: health_ok(port), timeout=180)
    # migrate ran first (the app waits for it), so the schema is there
    assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
    created = httpx.post(f"http://127.0.0.1:{port}/notes", json={"title": "dev"}, timeout=5)
    assert created.status_code == 201, created.text

    source = checkout / "app/src/sample_app/web.py"
    source.write_text(source.read_text() + "\n# edited by the hot-reload test\n")
    wait_for(
        "the dev server to reload after a code change",
        lambda: "reloading" in compose("logs", "--no-color", "app").lower(),
        timeout=60,
        interval=1,
    )
    wait_for("the reloaded app to answer /health", lambda: health_ok(port), timeout=60)
    notes = httpx.get(f"http://127.0.0.1:{port}/notes", timeout=5).json()
    assert [n["title"] for n in notes] == ["dev"]
