"""Fixtures for tests against the real Docker engine: the app image, a network, a database."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gangway.commands.image import build_argv
from gangway.config import PipelineConfig, load_config
from tests.support import fault_matrix

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
TEST_VERSION = "1.2.3-test"
TEST_REVISION = "0123abcd"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


_FAULTS: list[fault_matrix.Outcome] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Record the outcome of every `@pytest.mark.fault(N)` test for the reliability table."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    marker = item.get_closest_marker("fault")
    if marker is None:
        return
    done = report.when == "call" or (report.when == "setup" and not report.passed)
    if done:
        test = item.nodeid.split("tests/integration/", 1)[-1]
        _FAULTS.append(
            fault_matrix.Outcome(int(marker.args[0]), test, report.outcome, report.duration)
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _FAULTS:
        return
    proc = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    table = fault_matrix.render(
        _FAULTS, engine=proc.stdout.strip() or "?", date=time.strftime("%Y-%m-%d")
    )
    out = ROOT / ".gangway" / "fault-matrix.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table)
    print(f"\nfault matrix: {out}")


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """Run one docker CLI command; on failure show the command, its code and output."""
    argv = ["docker", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )
    return proc.stdout.strip()


def inspect(kind: str, name: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = json.loads(docker(kind, "inspect", name))
    return data[0]


def wait_for(what: str, probe: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll `probe` until it returns a truthy value; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(interval)


@pytest.fixture(scope="session")
def docker_engine() -> str:
    proc = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            "integration tests need a running Docker engine: install docker.io and start "
            f"dockerd (docker said: {proc.stderr.strip()})",
            pytrace=False,
        )
    return proc.stdout.strip()


@pytest.fixture(scope="session")
def pipeline() -> PipelineConfig:
    """The repository's pipeline.toml as this machine resolves it (GANGWAY_AIRGAPPED...)."""
    return load_config(ROOT / "pipeline.toml", environ=os.environ)


def airgapped() -> bool:
    return os.environ.get("GANGWAY_AIRGAPPED", "").lower() in {"1", "true", "yes"}


def ensure_image(name: str) -> None:
    """Make sure `name` is on the engine: pull it on a connected machine, else say how."""
    if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0:
        return
    if airgapped():
        pytest.fail(
            f"image {name} is missing and this machine is air-gapped "
            "(GANGWAY_AIRGAPPED=1): build the local images with docker/local-images.sh",
            pytrace=False,
        )
    docker("pull", name, timeout=600)


@pytest.fixture(scope="session")
def base_images(docker_engine: str, pipeline: PipelineConfig) -> None:
    """The images the tests start from, present before any build or run needs them."""
    for name in (pipeline.image.base_image, pipeline.image.builder_image, pipeline.database.image):
        ensure_image(name)


@pytest.fixture(scope="session")
def app_image(base_images: None, pipeline: PipelineConfig) -> Iterator[str]:
    tag = f"gangway-test/notes:{uuid.uuid4().hex[:10]}"
    argv = build_argv(
        pipeline.image, tag=tag, root=ROOT, version=TEST_VERSION, revision=TEST_REVISION
    )
    # These machines have no buildx; the Dockerfile is written for the classic builder.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    if proc.returncode != 0:
        pytest.fail(
            f"image build failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}",
            pytrace=False,
        )
    yield tag
    docker("image", "rm", "--force", tag, check=False)


@pytest.fixture
def network(docker_engine: str) -> Iterator[str]:
    name = f"gangway-test-{uuid.uuid4().hex[:10]}"
    docker("network", "create", "--label", "dev.gangway.test=1", name)
    yield name
    docker("network", "rm", name, check=False)


@dataclass(frozen=True)
class Database:
    container: str
    password: str
    url: str  # as the app container sees it, on the test network


@pytest.fixture
def database(network: str, base_images: None, pipeline: PipelineConfig) -> Iterator[Database]:
    name = f"{network}-db"
    password = secrets.token_urlsafe(18)
    docker(
        "run", "--detach", "--pull=never", "--name", name, "--network", network,
        "--network-alias", "db", "--label", "dev.gangway.test=1",
        "--env", "POSTGRES_USER=notes", "--env", "POSTGRES_DB=notes",
        "--env", f"POSTGRES_PASSWORD={password}",
        pipeline.database.image,
    )  # fmt: skip
    try:
        wait_for(
            "the database to accept connections",
            lambda: (
                subprocess.run(
                    ["docker", "exec", name, "pg_isready", "--host=127.0.0.1", "--username=notes"],
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            ),
        )
        yield Database(name, password, f"postgresql://notes:{password}@db:5432/notes")
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


@dataclass(frozen=True)
class RunningApp:
    container: str
    port: int
    database: Database

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def container_health(name: str) -> str:
    state = inspect("container", name)["State"]
    if not state["Running"]:
        logs = docker("logs", name, check=False)
        pytest.fail(f"container {name} exited with {state['ExitCode']}:\n{logs}", pytrace=False)
    health: str = state.get("Health", {}).get("Status", "none")
    return health


@pytest.fixture
def running_app(
    app_image: str, network: str, database: Database, tmp_path: Path
) -> Iterator[RunningApp]:
    """The app migrated and started with its DATABASE_URL given as a Docker secret file."""
    secret = tmp_path / "database_url"
    secret.write_text(database.url + "\n")
    secret.chmod(0o444)
    common = [
        "--pull=never", "--network", network, "--label", "dev.gangway.test=1",
        "--env", "APP_ENV=integration",
        "--volume", f"{secret}:/run/secrets/database_url:ro",
        "--env", "DATABASE_URL_FILE=/run/secrets/database_url",
    ]  # fmt: skip
    docker("run", "--rm", *common, app_image, "app", "migrate", timeout=120)
    name = f"{network}-app"
    docker(
        "run", "--detach", "--name", name, *common,
        "--env", "SHUTDOWN_TIMEOUT=15",
        "--publish", "127.0.0.1::8000",
        app_image,
    )  # fmt: skip
    try:
        host_port = docker("port", name, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
        wait_for(f"{name} to become healthy", lambda: container_health(name) == "healthy")
        yield RunningApp(name, int(host_port), database)
    finally:
        docker("rm", "--force", name, check=False)
