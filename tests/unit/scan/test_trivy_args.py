"""Trivy's argv for the scan stage: exact lists, online and offline, container and binary."""

from __future__ import annotations

from gangway.scan.trivy import (
    CONTAINER_CACHE_DIR,
    Mount,
    config_lint_args,
    docker_run_argv,
    sarif_args,
    sbom_args,
    secret_scan_args,
    vuln_scan_args,
)

from .conftest import policy

OFFLINE_FLAGS = ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
IMAGE = (
    "aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969"
)


def test_online_vuln_scan_reports_everything_as_json_and_never_gates_on_exit_code() -> None:
    args = vuln_scan_args(
        policy(), input_tar="/w/image.tar", report="/o/report.json", cache_dir="/c"
    )

    assert args == [
        "image",
        "--input", "/w/image.tar",
        "--scanners", "vuln,secret",
        "--format", "json",
        "--output", "/o/report.json",
        "--cache-dir", "/c",
        "--quiet",
    ]  # fmt: skip
    for flag in ("--exit-code", "--severity", "--ignore-unfixed", "--ignorefile"):
        assert flag not in args


def test_offline_vuln_scan_skips_every_database_update() -> None:
    args = vuln_scan_args(
        policy(offline=True), input_tar="/w/image.tar", report="/o/report.json", cache_dir="/c"
    )

    assert args[-3:] == OFFLINE_FLAGS
    assert args[:-3] == vuln_scan_args(
        policy(), input_tar="/w/image.tar", report="/o/report.json", cache_dir="/c"
    )


def test_secret_scan_uses_only_the_secret_scanner() -> None:
    args = secret_scan_args(policy(), input_tar="/w/i.tar", report="/o/r.json", cache_dir="/c")

    assert args == [
        "image", "--input", "/w/i.tar", "--scanners", "secret", "--format", "json",
        "--output", "/o/r.json", "--cache-dir", "/c", "--quiet",
    ]  # fmt: skip


def test_sbom_is_cyclonedx_of_the_tarball() -> None:
    assert sbom_args(
        policy(offline=True), input_tar="/w/i.tar", output="/o/sbom.cdx.json", cache_dir="/c"
    ) == [
        "image", "--input", "/w/i.tar", "--format", "cyclonedx", "--output", "/o/sbom.cdx.json",
        "--cache-dir", "/c", "--quiet", *OFFLINE_FLAGS,
    ]  # fmt: skip


def test_sarif_converts_the_json_report_without_rescanning() -> None:
    assert sarif_args(report="/o/report.json", output="/o/report.sarif") == [
        "convert", "--format", "sarif", "--output", "/o/report.sarif", "/o/report.json",
    ]  # fmt: skip


def test_config_lint_keeps_to_the_embedded_checks() -> None:
    assert config_lint_args(target="/src/Dockerfile", output="/o/lint.json", cache_dir="/c") == [
        "config", "--skip-check-update", "--format", "json", "--output", "/o/lint.json",
        "--cache-dir", "/c", "--quiet", "/src/Dockerfile",
    ]  # fmt: skip


def test_container_run_pulls_only_when_missing_and_keeps_the_cache_in_a_volume() -> None:
    args = sarif_args(report="/o/r.json", output="/o/r.sarif")

    argv = docker_run_argv(policy(), args, mounts=[Mount("/o", "/o"), Mount("/w", "/w", True)])

    assert argv == [
        "docker", "run", "--rm", "--pull=missing",
        "-v", f"gangway-trivy-cache:{CONTAINER_CACHE_DIR}",
        "-v", "/o:/o", "-v", "/w:/w:ro",
        IMAGE, *args,
    ]  # fmt: skip


def test_offline_container_never_pulls_and_has_no_network() -> None:
    argv = docker_run_argv(policy(offline=True, cache_volume="prefilled"), ["--version"])

    assert argv == [
        "docker", "run", "--rm", "--pull=never", "--network", "none",
        "-v", f"prefilled:{CONTAINER_CACHE_DIR}", IMAGE, "--version",
    ]  # fmt: skip
