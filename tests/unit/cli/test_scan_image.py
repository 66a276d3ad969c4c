"""`gangway scan --image`: the dry run prints the exact commands; usage mistakes exit 2."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from gangway import cli

from ..conftest import WriteConfig

PIN = "aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969"


def test_dry_run_prints_the_container_commands_and_runs_nothing(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "artifacts"

    code = cli.main(
        [
            "--config",
            str(minimal_config),
            "scan",
            "--image",
            "notes:1",
            "--out",
            str(out),
            "--dry-run",
        ]
    )

    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    commands = [shlex.split(line) for line in lines if not line.startswith("#")]
    assert [line for line in lines if line.startswith("#")][:6] == [
        "# save: save notes:1 as a tarball",
        "# scan: scan for vulnerabilities and secrets",
        "# secrets: scan for secrets only (when the vulnerability scan is unavailable)",
        "# sarif: convert the report to SARIF",
        "# sbom: write the CycloneDX SBOM",
        "# lint: lint docker/Dockerfile",
    ]
    save, scan = commands[0], commands[1]
    assert save[:4] == ["docker", "save", "--output", save[3]]
    assert save[3].endswith("/image.tar")
    assert scan[:5] == ["docker", "run", "--rm", "--pull=missing", "-v"]
    assert scan[5] == "gangway-trivy-cache:/root/.cache/trivy"
    image_at = scan.index(PIN)
    assert scan[image_at + 1 :] == [
        "image", "--input", save[3], "--scanners", "vuln,secret", "--format", "json",
        "--output", f"{out.resolve()}/report.json", "--cache-dir", "/root/.cache/trivy", "--quiet",
    ]  # fmt: skip
    assert f"{out.resolve()}:{out.resolve()}" in scan
    assert not out.exists()


def test_dry_run_offline_with_a_local_binary(
    write_config: WriteConfig, minimal_toml: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(minimal_toml + "\n[scan]\noffline = true\n")

    code = cli.main(
        [
            "--config", str(config), "scan", "--image", "notes:1", "--dry-run",
            "--trivy-binary", "/opt/trivy", "--cache-dir", "/var/cache/trivy",
        ]
    )  # fmt: skip

    assert code == 0
    commands = [
        shlex.split(line) for line in capsys.readouterr().out.splitlines() if line[:1] != "#"
    ]
    scan = commands[1]
    assert scan[:2] == ["/opt/trivy", "image"]
    assert scan[-6:] == [
        "--cache-dir", "/var/cache/trivy", "--quiet",
        "--skip-db-update", "--skip-java-db-update", "--offline-scan",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["scan"],
        ["scan", "--image", "notes:1", "--report", "r.json"],
    ],
)
def test_scan_needs_exactly_one_of_image_and_report(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--config", str(minimal_config), *args])

    assert exited.value.code == 2
    assert "--image" in capsys.readouterr().err
