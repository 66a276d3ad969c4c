"""Reading Trivy's JSON report: the typed model, and a clear error for anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gangway.errors import ReportUnreadable
from gangway.scan import load_report, parse_report

from .conftest import REPORTS, own_report

MINIMAL = {"SchemaVersion": 2, "ArtifactName": "a", "ArtifactType": "container_image"}


def unreadable(text: str) -> str:
    with pytest.raises(ReportUnreadable) as caught:
        parse_report(text, file="r.json")
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_report_fields_are_typed_and_unknown_keys_skipped() -> None:
    report = own_report("critical-with-fix.json")

    first = report.results[0].vulnerabilities[0]
    assert report.artifact_name == "notes:1.4.0"
    assert report.metadata is not None
    assert report.metadata.repo_tags == ["notes:1.4.0"]
    assert (first.vulnerability_id, first.pkg_name, first.installed_version) == (
        "CVE-2024-0001",
        "libexample",
        "1.0-1",
    )
    assert (first.fixed_version, first.severity, first.has_fix) == (
        "1.0-1+deb12u1",
        "CRITICAL",
        True,
    )
    assert report.results[1].class_ == "lang-pkgs"


def test_missing_and_null_finding_lists_mean_none() -> None:
    report = own_report("clean.json")

    assert [len(result.vulnerabilities) for result in report.results] == [0, 0]
    assert report.results[0].secrets == []


def test_a_report_without_results_is_read_as_empty() -> None:
    assert parse_report(json.dumps(MINIMAL)).results == []


def test_secret_match_stays_out_of_repr() -> None:
    secret = own_report("secret.json").results[0].secrets[0]

    assert "ghp_" not in repr(secret)
    assert "ghp_" not in str(secret)
    assert secret.match.get_secret_value().endswith("WXYZ")


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ReportUnreadable, match="file not found"):
        load_report(tmp_path / "absent.json")


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ReportUnreadable, match="cannot read it"):
        load_report(tmp_path)


def test_truncated_json_is_unreadable_with_its_position() -> None:
    with pytest.raises(ReportUnreadable) as caught:
        load_report(REPORTS / "malformed-not-json.json")

    assert "malformed-not-json.json: not JSON:" in str(caught.value)
    assert "line 2, column 1" in str(caught.value)


def test_an_empty_file_says_trivy_wrote_no_report() -> None:
    assert "Trivy wrote no report" in unreadable("  \n")


def test_an_sbom_is_not_a_trivy_report() -> None:
    with pytest.raises(ReportUnreadable) as caught:
        load_report(REPORTS / "malformed-not-trivy.json")

    assert "not a Trivy report: no SchemaVersion (it looks like a CycloneDX SBOM)" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "expected a JSON object, got an array"),
        ('"SchemaVersion"', "expected a JSON object, got a string"),
        ('{"SchemaVersion": 1}', "SchemaVersion 1, expected 2"),
        ('{"SchemaVersion": "2"}', 'SchemaVersion "2", expected 2'),
        ('{"SchemaVersion": true}', "SchemaVersion true, expected 2"),
    ],
)
def test_wrong_shape_or_schema_version_is_not_a_trivy_report(text: str, expected: str) -> None:
    assert expected in unreadable(text)


def test_a_vulnerability_without_severity_names_its_json_path() -> None:
    with pytest.raises(ReportUnreadable) as caught:
        load_report(REPORTS / "malformed-no-severity.json")

    assert "invalid Trivy report (1 problem):" in str(caught.value)
    assert "Results[0].Vulnerabilities[0].Severity: Field required" in str(caught.value)


def test_wrong_types_are_errors_not_coerced() -> None:
    document = {
        **MINIMAL,
        "Results": [
            {
                "Target": "t",
                "Class": "os-pkgs",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": 7,
                        "PkgName": "p",
                        "InstalledVersion": "1",
                        "Severity": "SEVERE",
                    }
                ],
            }
        ],
    }

    message = unreadable(json.dumps(document))

    assert (
        "Results[0].Vulnerabilities[0].VulnerabilityID: Input should be a valid string" in message
    )
    assert "Results[0].Vulnerabilities[0].Severity: Input should be" in message
    assert '(got "SEVERE")' in message


def test_a_bad_secret_never_echoes_its_value() -> None:
    document = {
        **MINIMAL,
        "Results": [
            {
                "Target": "f",
                "Class": "secret",
                "Secrets": [
                    {
                        "RuleID": "r",
                        "Category": "c",
                        "Severity": "HIGH",
                        "Title": "t",
                        "StartLine": "ghp_top_secret_value",
                        "EndLine": 1,
                        "Match": "m",
                    }
                ],
            }
        ],
    }

    message = unreadable(json.dumps(document))

    assert "Results[0].Secrets[0].StartLine" in message
    assert "ghp_top_secret_value" not in message


def test_many_problems_are_capped() -> None:
    bad = {"VulnerabilityID": "C", "PkgName": "p", "InstalledVersion": "1"}
    document = {
        **MINIMAL,
        "Results": [{"Target": "t", "Class": "c", "Vulnerabilities": [bad] * 15}],
    }

    message = unreadable(json.dumps(document))

    assert "(15 problems)" in message
    assert "... and 5 more" in message
