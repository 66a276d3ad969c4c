"""The gate on reports produced by Trivy itself (../shared/fixtures/trivy; skipped if absent)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gangway.scan import Verdict, evaluate, load_ignore_file, load_report, render_summary

from .conftest import TODAY, policy, trivy_fixture

GENERATED = "generated-trivy-0.76.0"


def judge(name: str, **fields: object) -> Verdict:
    return evaluate(load_report(trivy_fixture(name)), policy(**fields), today=TODAY)


def test_debian_buster_blocks_on_critical_libidn2_with_a_fix() -> None:
    verdict = judge("debian-buster.json.golden")

    assert not verdict.passed
    [blocking] = verdict.blocking
    assert (
        blocking.id,
        blocking.severity,
        blocking.package,
        blocking.installed,
        blocking.fixed,
    ) == (
        "CVE-2019-18224",
        "CRITICAL",
        "libidn2-0",
        "2.0.5-1",
        "2.0.5-1+deb10u1",
    )
    assert [finding.package for finding in verdict.below_threshold] == ["bash"]


@pytest.mark.parametrize(
    ("name", "unfixed"),
    [
        ("debian-buster.json.golden", "CVE-2019-18276"),
        ("mariner-1.0.json.golden", "CVE-2022-0261"),
    ],
)
def test_unfixed_high_or_low_passes_with_ignore_unfixed_and_blocks_without(
    name: str, unfixed: str
) -> None:
    everything = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
    ignoring = judge(name, fail_on=everything, ignore_unfixed=True)
    strict = judge(name, fail_on=everything, ignore_unfixed=False)

    assert unfixed in [finding.id for finding in ignoring.unfixed]
    assert unfixed in [finding.id for finding in strict.blocking]


def test_mariner_high_without_fix_passes_with_ignore_unfixed() -> None:
    verdict = judge("mariner-1.0.json.golden")

    assert verdict.passed
    assert [(finding.id, finding.severity) for finding in verdict.unfixed] == [
        ("CVE-2022-0261", "HIGH")
    ]


def test_mariner_high_without_fix_blocks_when_ignore_unfixed_is_off() -> None:
    verdict = judge("mariner-1.0.json.golden", ignore_unfixed=False)

    assert [finding.id for finding in verdict.blocking] == ["CVE-2022-0261"]


def test_debian_buster_ignore_unfixed_report_blocks_only_on_libidn2() -> None:
    assert [f.package for f in judge("debian-buster-ignore-unfixed.json.golden").blocking] == [
        "libidn2-0"
    ]


def test_an_ignore_entry_suppresses_the_libidn2_finding() -> None:
    verdict = judge(
        "debian-buster.json.golden",
        ignore=[{"id": "CVE-2019-18224", "reason": "no IDN input", "expires": "2026-07-01"}],
    )

    assert verdict.passed
    assert [finding.id for finding in verdict.ignored] == ["CVE-2019-18224"]


def test_an_expired_ignore_fails_and_says_so() -> None:
    expired = TODAY - timedelta(days=3)
    verdict = judge(
        "debian-buster.json.golden",
        ignore=[{"id": "CVE-2019-18224", "reason": "no IDN input", "expires": expired}],
    )

    assert not verdict.passed
    text = render_summary(verdict)
    assert text.splitlines()[0] == "scan: BLOCKED — 1 finding blocks (1 CRITICAL; 1 ignore expired)"
    assert f"expired on {expired}" in text


def test_secrets_golden_blocks_and_never_prints_the_whole_match() -> None:
    verdict = judge("secrets.json.golden")
    text = render_summary(verdict) + verdict.model_dump_json()

    assert [(finding.id, finding.line) for finding in verdict.blocking] == [
        ("aws-access-key-id", 3),
        ("mysecret", 7),
    ]
    assert "export AWS_ACCESS_KEY_ID=********************" not in text
    assert "echo ********" not in text
    assert "ghp_" not in text


@pytest.mark.parametrize(
    "name",
    [
        "sl-micro-rancher5.4.json.golden",
        "cargo.lock.json.golden",
        f"{GENERATED}/image-secret-filtered-empty-result.json",
    ],
)
def test_clean_reports_pass(name: str) -> None:
    verdict = judge(name)

    assert verdict.passed
    assert sum(verdict.counts.values()) == 0


def test_trivy_076_secret_in_an_image_blocks() -> None:
    verdict = judge(f"{GENERATED}/image-secret-found.json")

    assert [(f.kind, f.id, f.target, f.line) for f in verdict.blocking] == [
        ("secret", "aws-access-key-id", "/app/settings.sh", 2)
    ]


def test_trivy_076_secret_accepted_by_the_fixture_ignore_file_passes() -> None:
    rules = load_ignore_file(trivy_fixture(f"{GENERATED}/trivyignore-example.yaml"))
    report = load_report(trivy_fixture(f"{GENERATED}/image-secret-found.json"))

    verdict = evaluate(report, policy(), today=TODAY, ignore_file_entries=rules)

    assert verdict.passed
    assert [finding.id for finding in verdict.ignored] == ["aws-access-key-id"]


def test_ubi7_setuptools_high_with_a_fix_blocks_and_will_not_fix_does_not() -> None:
    verdict = judge("ubi-7-comprehensive.json.golden", fail_on=["LOW", "HIGH", "CRITICAL"])

    assert [(f.package, f.fixed) for f in verdict.blocking] == [("setuptools", "65.5.1")]
    assert [(f.package, f.status) for f in verdict.unfixed] == [("bash", "will_not_fix")]


def test_alpine_310_with_only_medium_findings_passes_the_default_policy() -> None:
    verdict = judge("alpine-310.json.golden")

    assert verdict.passed
    assert len(verdict.below_threshold) == 4


def test_pip_report_blocks_on_werkzeug() -> None:
    verdict = judge("pip.json.golden")

    assert [(f.id, f.package, f.fixed) for f in verdict.blocking] == [
        ("CVE-2019-14806", "Werkzeug", "0.15.3")
    ]


def test_misconfigurations_are_read_but_do_not_gate_yet() -> None:
    report = load_report(trivy_fixture(f"{GENERATED}/config-dockerfile-misconfig.json"))

    assert [m.id for m in report.results[0].misconfigurations] == ["DS-0002", "DS-0005", "DS-0026"]
    assert evaluate(report, policy(), today=TODAY).passed
