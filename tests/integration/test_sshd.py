"""The docker CLI reaches the local engine through the test sshd, as the deployer will."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from gangway.config import PipelineConfig
from tests.integration.conftest import docker, ensure_image
from tests.support.sshd import SshdUnavailable, SshServer


@pytest.fixture(scope="module")
def ssh_server() -> Iterator[SshServer]:
    try:
        server = SshServer().start()
    except SshdUnavailable as exc:
        # A missing sshd is a broken test machine, not an optional feature: fail loudly.
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def image(docker_engine: str, pipeline: PipelineConfig) -> str:
    ensure_image(pipeline.image.base_image)
    return pipeline.image.base_image


def over_ssh(
    server: SshServer, *args: str, stdin: bytes | None = None, timeout: float = 120
) -> bytes:
    """Run `docker ARGS` with DOCKER_HOST=ssh://…; on failure show command, code, output, log."""
    argv = ["docker", *args]
    proc = subprocess.run(
        argv, input=stdin, capture_output=True, env=server.docker_env(), timeout=timeout
    )
    if proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}) with DOCKER_HOST={server.docker_host}: "
            f"{' '.join(argv)}\nstdout:\n{proc.stdout.decode(errors='replace')}\n"
            f"stderr:\n{proc.stderr.decode(errors='replace')}\nsshd log:\n{server.log}",
            pytrace=False,
        )
    return proc.stdout


def test_docker_over_ssh_sees_the_local_engine(ssh_server: SshServer, docker_engine: str) -> None:
    version = over_ssh(ssh_server, "version", "--format", "{{.Server.Version}}")
    info_id = over_ssh(ssh_server, "info", "--format", "{{.ID}}")

    assert version.decode().strip() == docker_engine
    assert info_id.decode().strip() == docker("info", "--format", "{{.ID}}")
    # The environment is for child processes only; this process keeps the local socket.
    assert os.environ.get("DOCKER_HOST") != ssh_server.docker_host


def test_container_started_over_ssh_is_visible_locally(ssh_server: SshServer, image: str) -> None:
    name = f"gangway-test-ssh-{uuid.uuid4().hex[:10]}"
    over_ssh(ssh_server, "run", "--rm", "--pull=never", "--network", "none", image, "true")
    try:
        over_ssh(
            ssh_server,
            "run", "--detach", "--pull=never", "--name", name, "--network", "none",
            "--label", "dev.gangway.test=1", image, "sleep", "300",
        )  # fmt: skip
        listed_remote = over_ssh(
            ssh_server, "ps", "--filter", f"name=^{name}$", "--format", "{{.Names}}"
        )

        assert docker("inspect", "--format", "{{.State.Running}}", name) == "true"
        assert listed_remote.decode().split() == [name]
    finally:
        over_ssh(ssh_server, "rm", "--force", name)
    assert docker("ps", "--all", "--quiet", "--filter", f"name=^{name}$") == ""


def test_stdin_through_docker_exec_over_ssh_arrives_intact(
    ssh_server: SshServer, image: str
) -> None:
    name = f"gangway-test-ssh-{uuid.uuid4().hex[:10]}"
    # Every byte value, binary and a few MB: what an nginx config or a dump upload needs.
    payload = bytes(range(256)) * 16 + os.urandom(3 * 1024 * 1024)
    docker(
        "run", "--detach", "--pull=never", "--name", name, "--network", "none",
        "--label", "dev.gangway.test=1", image, "sleep", "300",
    )  # fmt: skip
    try:
        over_ssh(ssh_server, "exec", "-i", name, "sh", "-c", "cat > /tmp/x", stdin=payload)
        digest = docker("exec", name, "sha256sum", "/tmp/x").split()[0]
        size = docker("exec", name, "stat", "-c", "%s", "/tmp/x")
    finally:
        docker("rm", "--force", name, check=False)

    assert int(size) == len(payload)
    assert digest == hashlib.sha256(payload).hexdigest()
