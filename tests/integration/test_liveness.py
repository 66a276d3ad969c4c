"""Liveness with an app gangway has never seen: the bare app (no HEALTHCHECK, /healthz)
whose liveness answers 500 fails its deploy before the switch, the live release unharmed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gangway.config import PipelineConfig
from tests.integration.conftest import docker
from tests.support import bare_app
from tests.support.pg import free_port

pytestmark = pytest.mark.integration


@dataclass
class BareStage:
    """One environment of a throw-away app running the bare image."""

    app: str
    config: Path
    port: int
    environ: dict[str, str]

    def gangway(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gangway", "--config", str(self.config), *args],
            capture_output=True, text=True, env={**self.environ, **(env or {})}, timeout=180,
            check=False,
        )  # fmt: skip

    def live(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/", timeout=5).text.strip()


def write_config(path: Path, app: str, port: int, preview: int, proxy_image: str) -> None:
    # The bare app's own settings: port 9000, /healthz and /readyz, no database.
    path.write_text(
        f"""
[app]
name = "{app}"
port = {bare_app.PORT}

[proxy]
image = "{proxy_image}"

[environments.staging]
port = {free_port()}
preview_port = {free_port()}

[environments.production]
port = {port}
preview_port = {preview}
pull = "never"

[environments.production.health]
path = "/healthz"
ready_path = "/readyz"
interval = "250ms"
deploy_timeout = "6s"
drain_timeout = "5s"

[environments.production.migrations]
command = []
pending = []

[environments.production.watch]
window = "1s"
"""
    )


@pytest.fixture
def bare_stage(tmp_path: Path, pipeline: PipelineConfig, base_images: None) -> Iterator[BareStage]:
    app = f"gwlive{uuid.uuid4().hex[:8]}"
    port, preview = free_port(), free_port()
    config = tmp_path / "pipeline.toml"
    write_config(config, app, port, preview, pipeline.proxy.image)
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GANGWAY_ENV")}
    environ["GANGWAY_ACTOR"] = "integration-test"
    try:
        yield BareStage(app, config, port, environ)
    finally:
        ids = docker("ps", "--all", "--quiet", "--filter", f"label=dev.gangway.app={app}",
                     check=False).split()  # fmt: skip
        if ids:
            docker("rm", "--force", "--volumes", *ids, check=False)
        volumes = docker("volume", "ls", "--quiet", "--filter", f"name={app}-", check=False)
        if volumes.split():
            docker("volume", "rm", *volumes.split(), check=False)
        docker("network", "rm", f"{app}-production", check=False)


def test_a_liveness_endpoint_answering_500_without_healthcheck_fails_the_deploy(
    bare_stage: BareStage,
) -> None:
    v1, v2 = bare_app.image("v1"), bare_app.image("v2")
    deployed = bare_stage.gangway("deploy", "--env", "production", "--image", v1, "--version", "v1")
    assert deployed.returncode == 0, deployed.stderr
    assert bare_stage.live() == "v1"

    plan = bare_stage.gangway("plan", "--env", "production", "--image", v2, "--json")
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    [live] = [s for s in data["steps"] if s["type"] == "wait" and s["kind"] == "live"]
    assert live["subject"].endswith("/healthz")
    assert any("has no HEALTHCHECK" in note for note in data["notes"])

    # /healthz answers 500, /readyz 200: only gangway's own liveness check can tell
    failed = bare_stage.gangway(
        "deploy", "--env", "production", "--image", v2, "--version", "v2",
        env={"GANGWAY_ENVIRONMENTS__PRODUCTION__ENV__FAULT": "unhealthy"},
    )  # fmt: skip

    assert failed.returncode == 1, failed.stderr
    assert "(liveness) did not answer 2xx" in failed.stderr
    assert "HTTP 500" in failed.stderr
    assert bare_stage.live() == "v1"
    status = json.loads(bare_stage.gangway("status", "--env", "production", "--json").stdout)
    assert status["live"]["version"] == "v1"
    last = status["history"][-1]
    assert (last["outcome"], last["step"], last["version"]) == ("failed", "health", "v2")
    assert [r["pulled"] for r in status["history"]] == [False, False]  # both built here
