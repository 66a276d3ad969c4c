"""`gangway scan --report FILE`: exit 0 pass, 1 blocked, 2 unreadable; human and JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from gangway import cli

from ..conftest import WriteConfig
from ..scan.conftest import REPORTS


def scan(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--config", str(config), "scan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_blocked_report_exits_1_with_the_verdict_first(
    minimal_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = scan(capsys, minimal_config, "--report", str(REPORTS / "critical-with-fix.json"))

    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "scan: BLOCKED — 2 findings block (1 CRITICAL, 1 HIGH)"
    assert lines[1].startswith("counts: CRITICAL 1, HIGH 1, MEDIUM 1, LOW 1, UNKNOWN 0")
    assert all(len(line) <= 100 for line in lines if line.startswith(("BLOCK", "ignored", " ")))
    table = [line for line in lines if line.startswith("BLOCK")]
    assert table[0].split()[:6] == [
        "BLOCK",
        "CRITICAL",
        "CVE-2024-0001",
        "libexample",
        "1.0-1",
        "1.0-1+deb12u1",
    ]
    expires = (date.today() + timedelta(days=30)).isoformat()
    assert (
        '[[scan.ignore]]\nid = "CVE-2024-0001"\n'
        'reason = "TODO: why this is acceptable until it expires"\n'
        f"expires = {expires}\n" in out
    )


def test_clean_report_exits_0(minimal_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = scan(capsys, minimal_config, "--report", str(REPORTS / "clean.json"))

    assert code == 0
    assert out.splitlines()[0] == "scan: passed — 0 blocking, 0 ignored, 0 below the threshold"


def test_ignores_from_pipeline_toml_are_applied_and_shown_with_reason_and_expiry(
    write_config: WriteConfig, minimal_toml: str, capsys: pytest.CaptureFixture[str]
) -> None:
    until = (date.today() + timedelta(days=10)).isoformat()
    config = write_config(
        minimal_toml
        + '\n[scan]\nfail_on = ["CRITICAL"]\n\n[[scan.ignore]]\nid = "CVE-2024-0001"\n'
        + f'reason = "parser not reachable"\nexpires = {until}\n'
    )

    code, out, _ = scan(capsys, config, "--report", str(REPORTS / "critical-with-fix.json"))

    assert code == 0
    assert out.splitlines()[0] == "scan: passed — 0 blocking, 1 ignored, 3 below the threshold"
    assert f"  CVE-2024-0001 until {until}: parser not reachable (pipeline.toml)" in out


def test_secret_output_never_contains_the_match(
    minimal_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = scan(capsys, minimal_config, "--report", str(REPORTS / "secret.json"))
    json_code, json_out, _ = scan(
        capsys, minimal_config, "--report", str(REPORTS / "secret.json"), "--json"
    )

    assert (code, json_code) == (1, 1)
    assert out.splitlines()[0] == "scan: BLOCKED — 1 finding blocks (1 secret)"
    assert "in /app/settings.sh, line 4: export G… [redacted, 58 chars]" in out
    for text in (out, err, json_out):
        assert "ghp_0123456789" not in text


def test_json_prints_the_verdict(minimal_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = scan(
        capsys, minimal_config, "--report", str(REPORTS / "unfixed-only.json"), "--json"
    )

    document = json.loads(out)
    assert code == 0
    assert document["passed"] is True
    assert document["summary"].startswith("scan: passed")
    assert [finding["id"] for finding in document["unfixed"]] == [
        "CVE-2024-1002",
        "CVE-2024-1001",
        "CVE-2024-1003",
    ]
    assert document["counts"] == {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("malformed-not-json.json", "not JSON"),
        ("malformed-not-trivy.json", "not a Trivy report"),
        ("malformed-no-severity.json", "Results[0].Vulnerabilities[0].Severity: Field required"),
        ("absent.json", "file not found"),
    ],
)
def test_unreadable_report_exits_2_and_is_never_a_pass(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], report: str, message: str
) -> None:
    code, out, err = scan(capsys, minimal_config, "--report", str(REPORTS / report))

    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {REPORTS / report}: ")
    assert message in err


def test_bad_ignore_file_exits_2_with_file_and_line(
    minimal_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ignore = tmp_path / ".trivyignore.yaml"
    ignore.write_text(
        "vulnerabilities:\n  - id: CVE-2024-0001\n    statement: s\n    expired_at: 2026-02-30\n"
    )

    code, _, err = scan(
        capsys,
        minimal_config,
        "--report",
        str(REPORTS / "clean.json"),
        "--ignore-file",
        str(ignore),
    )

    assert code == 2
    assert f"error: {ignore}:4: vulnerabilities[0].expired_at: expected a date" in err


def test_ignore_file_entries_accept_findings(
    minimal_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ignore = tmp_path / ".trivyignore.yaml"
    ignore.write_text(
        "secrets:\n  - id: github-pat\n    paths: [app/settings.sh]\n"
        "    statement: test fixture\n    expired_at: 2099-01-01\n"
    )

    code, out, _ = scan(
        capsys,
        minimal_config,
        "--report",
        str(REPORTS / "secret.json"),
        "--ignore-file",
        str(ignore),
    )

    assert code == 0
    assert f"github-pat until 2099-01-01: test fixture ({ignore}:2)" in out


def test_bad_config_exits_2(write_config: WriteConfig, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config('[app]\nname = "notes"\n[scan]\nfail_on = ["SEVERE"]\n')

    code, _, err = scan(capsys, config, "--report", str(REPORTS / "clean.json"))

    assert code == 2
    assert "scan.fail_on" in err


def test_without_pipeline_toml_the_default_policy_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    code = cli.main(["scan", "--report", str(REPORTS / "critical-with-fix.json")])
    out, err = capsys.readouterr()

    assert code == 1
    assert "using the default policy" in err
    assert out.startswith("scan: BLOCKED")


@pytest.mark.parametrize(
    ("report", "expected"),
    [("clean.json", 0), ("critical-with-fix.json", 1), ("malformed-no-severity.json", 2)],
)
def test_real_subprocess_exit_codes_without_a_traceback(
    minimal_config: Path, report: str, expected: int
) -> None:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GANGWAY_")}

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gangway",
            "--config",
            str(minimal_config),
            "scan",
            "--report",
            str(REPORTS / report),
        ],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=60,
    )

    assert result.returncode == expected, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
