"""The human summary: the one-line verdict, and a table that fits 100 columns."""

from __future__ import annotations

import json

from gangway.scan import evaluate, headline, parse_report, render_summary

from .conftest import REPORTS, TODAY, own_report, policy


def table(text: str) -> list[str]:
    """The table's lines: from its heading row to the next blank line."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if "SEVERITY  ID" in line)
    end = next((index for index in range(start, len(lines)) if not lines[index]), len(lines))
    return lines[start:end]


def test_headline_counts_blocking_vulnerabilities_and_secrets_apart() -> None:
    document = json.loads((REPORTS / "critical-with-fix.json").read_text())
    document["Results"].append(
        {
            "Target": "app/.env",
            "Class": "secret",
            "Secrets": [
                {
                    "RuleID": "r",
                    "Category": "c",
                    "Severity": "MEDIUM",
                    "Title": "t",
                    "StartLine": 1,
                    "EndLine": 1,
                    "Match": "TOKEN=abcdefgh",
                }
            ],
        }
    )

    verdict = evaluate(parse_report(json.dumps(document)), policy(), today=TODAY)

    assert headline(verdict) == "scan: BLOCKED — 3 findings block (1 CRITICAL, 1 HIGH, 1 secret)"


def test_passed_headline_mentions_unfixed_findings() -> None:
    verdict = evaluate(own_report("unfixed-only.json"), policy(), today=TODAY)

    assert headline(verdict) == (
        "scan: passed — 0 blocking, 0 ignored, 0 below the threshold, 3 without a fix"
    )


def test_table_rows_fit_100_columns_even_with_long_names() -> None:
    long = "x" * 80
    document = {
        "SchemaVersion": 2,
        "ArtifactName": "a",
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": "/" + "/".join([long] * 3),
                "Class": "lang-pkgs",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "GHSA-" + long,
                        "PkgName": long,
                        "InstalledVersion": long,
                        "FixedVersion": long,
                        "Severity": "CRITICAL",
                    }
                ],
            },
            {
                "Target": "/" + "/".join([long] * 3),
                "Class": "secret",
                "Secrets": [
                    {
                        "RuleID": long,
                        "Category": "c",
                        "Severity": "HIGH",
                        "Title": "t",
                        "StartLine": 1,
                        "EndLine": 1,
                        "Match": "m",
                    }
                ],
            },
        ],
    }

    text = render_summary(evaluate(parse_report(json.dumps(document)), policy(), today=TODAY))

    rows = table(text)
    assert len(rows) == 3
    assert max(len(row) for row in rows) <= 100
    assert "…" + "x" * 10 in text


def test_blocking_rows_come_before_ignored_ones() -> None:
    config = policy(ignore=[{"id": "CVE-2024-0001", "reason": "r", "expires": "2026-12-31"}])

    text = render_summary(evaluate(own_report("critical-with-fix.json"), config, today=TODAY))

    assert [row.split()[0] for row in table(text)[1:]] == ["BLOCK", "ignored"]
