"""The bare test app (tests/apps/bare): its image built once per content and version, run."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

APP_DIR = Path(__file__).resolve().parents[1] / "apps" / "bare"
SERVER = APP_DIR / "server.py"
REPOSITORY = "gangway-test/bare"
PORT = 9000
BASE_IMAGE = "local/python-slim"
SOURCE_LABEL = "dev.gangway.test.bare.source"
TEST_LABEL = "dev.gangway.test=1"


class DockerFailed(RuntimeError):
    """A docker command failed: the message holds the command, its code and its output."""


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    argv = ["docker", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise DockerFailed(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
        )
    return proc.stdout.strip()


def source_hash(base_image: str = BASE_IMAGE) -> str:
    """What the image is made of: every file of tests/apps/bare and the base image's id."""
    digest = hashlib.sha256()
    for path in sorted(APP_DIR.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        digest.update(f"{path.relative_to(APP_DIR)}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    base_id = docker("image", "inspect", "--format", "{{.Id}}", base_image)
    digest.update(f"{base_image}\0{base_id}".encode())
    return digest.hexdigest()


@functools.cache
def image(version: str = "v1", base_image: str = BASE_IMAGE) -> str:
    """The tag of the image whose `/` answers `version`; built only if no image has it.

    The tag carries the source hash, so an edit to the app builds a new image and two
    clones never overwrite each other's. The version is the last layer-less step of the
    Dockerfile: v2 after v1 is a cache hit of every layer, a second or two.
    """
    source = source_hash(base_image)
    tag = f"{REPOSITORY}:{version}-{source[:12]}"
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}',
         tag],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode == 0 and found.stdout.strip() == source:
        return tag
    argv = [
        "docker", "build", "--pull=false", "--tag", tag,
        "--build-arg", f"BASE_IMAGE={base_image}", "--build-arg", f"VERSION={version}",
        "--label", f"{SOURCE_LABEL}={source}", "--label", TEST_LABEL,
        str(APP_DIR),
    ]  # fmt: skip
    # The Dockerfile is written for the classic builder: these machines have no buildx.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise DockerFailed(
            f"image build failed ({proc.returncode}): {' '.join(argv)}\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return tag


def logs(name: str) -> str:
    """What the container printed; the app writes to stderr, which `docker logs` keeps apart."""
    proc = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def wait_logged(name: str, text: str, timeout: float = 30) -> None:
    """Wait until the container has said `text` (the app says when a /slow request starts)."""
    deadline = time.monotonic() + timeout
    while text not in logs(name):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not say {text!r} within {timeout:.0f}s")
        time.sleep(0.1)


@dataclass(frozen=True)
class BareContainer:
    """One running container of the bare app, published on 127.0.0.1."""

    name: str
    host_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    def inspect(self) -> dict[str, object]:
        data: list[dict[str, object]] = json.loads(docker("container", "inspect", self.name))
        return data[0]

    def pid(self) -> int:
        """The server's process id on the host (its network namespace is /proc/PID/ns/net)."""
        return int(docker("inspect", "--format", "{{.State.Pid}}", self.name))

    def address(self, network: str) -> str:
        """The container's address on `network`, which the host reaches without a proxy."""
        fmt = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
        return docker("inspect", "--format", fmt, self.name)


def wait_ready(url: str, timeout: float = 30) -> None:
    """Poll /readyz until it answers 200; raise naming the last thing seen at the deadline."""
    deadline = time.monotonic() + timeout
    last = "nothing"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url}/readyz not ready within {timeout:.0f}s (last: {last})")


@contextmanager
def running(
    tag: str, *, name: str, network: str, env: Mapping[str, str] | None = None, ready: bool = True
) -> Iterator[BareContainer]:
    """Run `tag` as `name` on `network` with port 9000 on 127.0.0.1; remove it afterwards."""
    settings = [arg for key, value in (env or {}).items() for arg in ("--env", f"{key}={value}")]
    docker(
        "run", "--detach", "--pull=never", "--name", name, "--network", network,
        "--label", TEST_LABEL, "--publish", f"127.0.0.1::{PORT}", *settings, tag,
    )  # fmt: skip
    try:
        published = docker("port", name, f"{PORT}/tcp", check=False).splitlines()
        container = BareContainer(name, int(published[0].rsplit(":", 1)[1]) if published else 0)
        if ready:
            wait_ready(container.url)
        yield container
    finally:
        docker("rm", "--force", name, check=False)
