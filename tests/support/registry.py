"""A throwaway image registry for tests: Debian's docker-registry on 127.0.0.1, plain HTTP."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.pg import free_port

INSTALL_HINT = "docker-registry not found; install it with: apt-get install docker-registry"


class Registry:
    """`docker-registry serve` with a config of its own (Debian's wants auth, all interfaces)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        config = self.root / "config.yml"
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.root / 'data'}\nhttp:\n  addr: {self.address}\n"
        )
        with (self.root / "registry.log").open("wb") as log:
            self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{self.address}/v2/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"registry did not answer on {self.address}; see {self.root}")

    def tags(self, repository: str) -> list[str]:
        response = httpx.get(f"http://{self.address}/v2/{repository}/tags/list", timeout=5)
        if response.status_code == 404:
            return []
        tags: list[str] = response.json().get("tags") or []
        return sorted(tags)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
