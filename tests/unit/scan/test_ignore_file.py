"""`.trivyignore.yaml`, read strictly: a statement and a valid expiry on every entry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gangway.errors import ConfigError
from gangway.scan import IgnoreRule, load_ignore_file, parse_ignore_file

from .conftest import trivy_fixture

VALID = """\
vulnerabilities:
  - id: CVE-2022-40897
    paths:
      - "usr/lib/python3/site-packages/setuptools"
    statement: not used at runtime
    expired_at: 2026-09-30
  - id: CVE-2023-27534
    purls: ["pkg:deb/debian/curl@7.88.1"]
    statement: no FTP in use
    expired_at: 2026-10-01T00:00:00Z
secrets:
  - id: aws-access-key-id
    paths: ["/app/settings.sh"]
    statement: test fixture key
    expired_at: 2099-12-31
"""


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_ignore_file(text, file="ign.yaml")
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_entries_become_rules_with_their_kind_source_line_and_expiry() -> None:
    rules = parse_ignore_file(VALID, file="ign.yaml")

    assert rules == (
        IgnoreRule(
            id="CVE-2022-40897",
            reason="not used at runtime",
            expires=date(2026, 9, 30),
            source="ign.yaml:2",
            paths=("usr/lib/python3/site-packages/setuptools",),
        ),
        IgnoreRule(
            id="CVE-2023-27534",
            reason="no FTP in use",
            expires=date(2026, 10, 1),
            source="ign.yaml:7",
            purls=("pkg:deb/debian/curl@7.88.1",),
        ),
        IgnoreRule(
            id="aws-access-key-id",
            reason="test fixture key",
            expires=date(2099, 12, 31),
            source="ign.yaml:12",
            kind="secret",
            paths=("/app/settings.sh",),
        ),
    )


def test_the_trivy_fixture_ignore_file_parses() -> None:
    path = trivy_fixture("generated-trivy-0.76.0/trivyignore-example.yaml")

    [rule] = load_ignore_file(path)

    assert (rule.kind, rule.id, rule.reason, rule.expires) == (
        "secret",
        "aws-access-key-id",
        "test fixture key",
        date(2099, 12, 31),
    )
    assert rule.source == f"{path}:2"


def test_a_malformed_expiry_is_rejected_with_file_and_line() -> None:
    text = VALID.replace("expired_at: 2026-09-30", "expired_at: 2026-13-45")

    assert problems(text) == (
        "ign.yaml:6: vulnerabilities[0].expired_at: expected a date YYYY-MM-DD (Trivy would "
        "silently stop ignoring this entry) (got '2026-13-45')"
    )


def test_a_malformed_expiry_in_a_file_names_the_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / ".trivyignore.yaml"
    path.write_text("secrets:\n  - id: x\n    statement: s\n    expired_at: next week\n")

    with pytest.raises(ConfigError) as caught:
        load_ignore_file(path)

    assert str(caught.value).startswith(f"{path}:4: secrets[0].expired_at: expected a date")


def test_statement_and_expiry_are_required() -> None:
    message = problems("vulnerabilities:\n  - id: CVE-1\n  - id: CVE-2\n    statement: '  '\n")

    assert message.splitlines() == [
        "ign.yaml:2: vulnerabilities[0].statement: missing statement (the reason it is accepted)",
        "ign.yaml:2: vulnerabilities[0].expired_at: missing expired_at: every ignore needs an "
        "expiry date (YYYY-MM-DD)",
        "ign.yaml:4: vulnerabilities[1].statement: statement must be non-empty text (the reason "
        "it is accepted)",
        "ign.yaml:3: vulnerabilities[1].expired_at: missing expired_at: every ignore needs an "
        "expiry date (YYYY-MM-DD)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vulns:\n  - id: x\n", "ign.yaml:1: vulns: unknown section"),
        ("- id: x\n", "ign.yaml:1: expected a mapping"),
        ("secrets: {id: x}\n", "ign.yaml:1: secrets: expected a list of entries"),
        ("secrets:\n  - just-an-id\n", "ign.yaml:2: secrets[0]: expected an entry"),
        (
            "secrets:\n  - id: x\n    statement: s\n    expired_at: 2026-01-01\n    path: a\n",
            "ign.yaml:5: secrets[0].path: unknown key",
        ),
        (
            "secrets:\n  - id: x\n    id: y\n    statement: s\n    expired_at: 2026-01-01\n",
            "ign.yaml:3: secrets[0].id: repeated key",
        ),
        (
            "secrets:\n  - id: x\n    paths: a\n    statement: s\n    expired_at: 2026-01-01\n",
            "ign.yaml:3: secrets[0].paths: expected a list of non-empty strings",
        ),
        ("secrets: [\n", "ign.yaml:2: not valid YAML"),
    ],
)
def test_malformed_structure_is_rejected_with_the_line(text: str, expected: str) -> None:
    assert problems(text).startswith(expected)


def test_an_empty_file_accepts_nothing() -> None:
    assert parse_ignore_file("", file="ign.yaml") == ()
    assert parse_ignore_file("vulnerabilities:\n", file="ign.yaml") == ()


def test_a_missing_ignore_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ignore file not found"):
        load_ignore_file(tmp_path / ".trivyignore.yaml")
