"""Trivy's argv, built by pure functions: the same list runs the container or a local binary.

Every builder returns the arguments *after* `trivy`. The container runner prefixes them
with `docker run ... <trivy_image>` (docker_run_argv); a local binary is simply
`[binary, *args]`. Nothing here gates on Trivy's exit code: the stage reads the JSON and
the policy decides (gangway.scan.policy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from gangway.config.model import ScanConfig

#: Where the official image keeps its cache (`$HOME/.cache/trivy` of root).
CONTAINER_CACHE_DIR: Final = "/root/.cache/trivy"
#: The scanners of the gate: known vulnerabilities and secrets left in the image.
GATE_SCANNERS: Final = "vuln,secret"


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted into the Trivy container."""

    source: str
    target: str
    read_only: bool = False

    def volume_arg(self) -> str:
        """The value of `-v`: `source:target[:ro]`."""
        return f"{self.source}:{self.target}" + (":ro" if self.read_only else "")


def offline_args(scan: ScanConfig) -> list[str]:
    """The flags that keep Trivy from downloading anything (empty unless scan.offline)."""
    if not scan.offline:
        return []
    return ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]


def vuln_scan_args(scan: ScanConfig, *, input_tar: str, report: str, cache_dir: str) -> list[str]:
    """Scan an image tarball (`docker save`) for vulnerabilities and secrets into a JSON report.

    No `--severity`, `--ignore-unfixed`, `--ignorefile` or `--exit-code`: Trivy reports
    everything it finds and the gate (in Python) decides, with the ignore rules it checks.
    """
    return [
        "image",
        "--input", input_tar,
        "--scanners", GATE_SCANNERS,
        "--format", "json",
        "--output", report,
        "--cache-dir", cache_dir,
        "--quiet",
        *offline_args(scan),
    ]  # fmt: skip


def secret_scan_args(scan: ScanConfig, *, input_tar: str, report: str, cache_dir: str) -> list[str]:
    """Scan the tarball for secrets only: needs no database, so it runs when the
    vulnerability scan cannot (and a secret still blocks)."""
    return [
        "image",
        "--input", input_tar,
        "--scanners", "secret",
        "--format", "json",
        "--output", report,
        "--cache-dir", cache_dir,
        "--quiet",
        *offline_args(scan),
    ]  # fmt: skip


def sbom_args(scan: ScanConfig, *, input_tar: str, output: str, cache_dir: str) -> list[str]:
    """A CycloneDX SBOM of the image tarball (it lists packages: no database is needed)."""
    return [
        "image",
        "--input", input_tar,
        "--format", "cyclonedx",
        "--output", output,
        "--cache-dir", cache_dir,
        "--quiet",
        *offline_args(scan),
    ]  # fmt: skip


def sarif_args(*, report: str, output: str) -> list[str]:
    """Convert the JSON report into SARIF 2.1.0 for code-scanning dashboards (no rescan)."""
    return ["convert", "--format", "sarif", "--output", output, report]


def config_lint_args(*, target: str, output: str, cache_dir: str) -> list[str]:
    """Check a Dockerfile (or a directory of config files) with the checks built into Trivy.

    `--skip-check-update` keeps to the embedded checks bundle: no download, same results
    offline; the report is a warning, never a gate.
    """
    return [
        "config",
        "--skip-check-update",
        "--format", "json",
        "--output", output,
        "--cache-dir", cache_dir,
        "--quiet",
        target,
    ]  # fmt: skip


def docker_run_argv(
    scan: ScanConfig, args: Sequence[str], *, mounts: Sequence[Mount] = ()
) -> list[str]:
    """Run `trivy <args>` in the pinned image, with the cache volume at CONTAINER_CACHE_DIR.

    The image is pulled only when missing, and never when offline: a machine that
    cannot pull must have loaded it (`docker load`) before, or the scan is unavailable.
    `mounts` are bind mounts of host paths the args name (the tarball, the output dir).
    """
    argv = ["docker", "run", "--rm", f"--pull={'never' if scan.offline else 'missing'}"]
    if scan.offline:
        # Offline means offline: the container gets no network at all.
        argv += ["--network", "none"]
    argv += ["-v", f"{scan.cache_volume}:{CONTAINER_CACHE_DIR}"]
    for mount in mounts:
        argv += ["-v", mount.volume_arg()]
    return [*argv, scan.trivy_image, *args]
