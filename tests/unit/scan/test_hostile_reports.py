"""One test per class of broken Trivy report of issue 12: exit 2 with a place, never a bug."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gangway import cli
from gangway.errors import ReportUnreadable
from gangway.scan.report import parse_report

from .conftest import REPORTS

TEXT = (REPORTS / "critical-with-fix.json").read_text(encoding="utf-8")


def unreadable(text: str) -> str:
    with pytest.raises(ReportUnreadable) as caught:
        parse_report(text, file="report.json")
    return str(caught.value)


def test_a_lone_surrogate_in_the_artifact_name_is_unreadable_with_its_place() -> None:
    text = TEXT.replace('"ArtifactName": "notes:1.4.0"', '"ArtifactName": "notes\\ud800"')

    assert unreadable(text) == (
        "report.json: not a usable report: ArtifactName holds a \\u escape of a lone "
        "surrogate, which is not text (at line 4, column 25)"
    )


def test_an_escaped_backslash_before_u_is_text_not_a_surrogate() -> None:
    text = TEXT.replace('"ArtifactName": "notes:1.4.0"', '"ArtifactName": "notes\\\\ud800"')

    assert parse_report(text).artifact_name == "notes\\ud800"


def test_a_truncated_report_says_where_it_ends_once() -> None:
    cut = TEXT[: TEXT.index("heap overflow")]

    message = unreadable(cut)

    assert message == (
        "report.json: not JSON: Unterminated string starting at line 15, column 43 "
        "(the file ends early: was the report cut off?)"
    )


def test_nesting_thousands_deep_under_an_ignored_key_is_unreadable() -> None:
    text = TEXT.replace('"FutureField": {"x": 1}', '"FutureField": ' + "[" * 5000 + "]" * 5000)

    assert unreadable(text).startswith(
        "report.json: not a usable report: nested too deeply at line 16, column "
    )


@pytest.mark.parametrize(
    ("number", "problem"),
    [("9" * 5000, "a number of 5000 digits"), ("1e999", "a number too large to represent")],
)
def test_a_huge_number_is_unreadable_with_its_place(number: str, problem: str) -> None:
    text = TEXT.replace('{"x": 1}', '{"x": ' + number + "}")

    assert unreadable(text).startswith(f"report.json: not a usable report: {problem}")
    assert "at line 16, column 90" in unreadable(text)


def test_the_scan_command_exits_2_on_a_lone_surrogate(
    tmp_path: Path, minimal_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(json.loads(TEXT) | {"ArtifactName": "\ud800"}), encoding="utf-8")

    code = cli.main(["--config", str(minimal_config), "scan", "--report", str(report)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {report}: not a usable report: ArtifactName holds")
