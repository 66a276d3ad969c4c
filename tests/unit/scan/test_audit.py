"""The dependency audit: pip-audit's argv, its JSON gated with expiring ignores, and real
pip-audit runs against an unreachable service and a local OSV-compatible one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gangway import cli
from gangway.errors import ReportUnreadable
from gangway.scan.audit import judge_audit, parse_audit, pip_audit_argv, run_audit
from gangway.scan.ignore_file import parse_ignore_file

from .conftest import policy

ROOT = Path(__file__).resolve().parents[3]
REQUIREMENTS = ROOT / "app" / "requirements.txt"
TODAY = date(2026, 6, 1)

#: `pip-audit --format json` output (its JsonFormat): one vulnerable package with a fix,
#: one without, one clean.
AUDIT_JSON = json.dumps(
    {
        "dependencies": [
            {
                "name": "starlette",
                "version": "0.40.0",
                "vulns": [
                    {
                        "id": "GHSA-f96h-pmfr-66vw",
                        "fix_versions": ["0.40.1"],
                        "aliases": ["CVE-2024-47874"],
                        "description": "multipart/form-data DoS",
                    }
                ],
            },
            {
                "name": "idna",
                "version": "3.10",
                "vulns": [{"id": "PYSEC-2026-1", "fix_versions": [], "aliases": []}],
            },
            {"name": "anyio", "version": "4.16.0", "vulns": []},
        ],
        "fixes": [],
    }
)


def test_argv_is_strict_and_audits_the_pins_as_written() -> None:
    assert pip_audit_argv("app/requirements.txt", output="/o/audit.json", python="py") == [
        "py", "-m", "pip_audit", "--requirement", "app/requirements.txt", "--strict",
        "--no-deps", "--disable-pip", "--format", "json", "--progress-spinner", "off",
        "--output", "/o/audit.json",
    ]  # fmt: skip
    assert pip_audit_argv("r.txt", output="o", python="py", osv_url="http://127.0.0.1:1/q")[
        -4:
    ] == ["--vulnerability-service", "osv", "--osv-url", "http://127.0.0.1:1/q"]


def test_a_vulnerability_with_a_fix_blocks() -> None:
    result = judge_audit(parse_audit(AUDIT_JSON), policy(), today=TODAY)

    assert (result.status, result.blocks, result.audited) == ("blocked", True, 3)
    assert result.message == "audit: BLOCKED — 1 known vulnerability in starlette"
    [blocked, unfixed] = result.findings
    assert blocked.describe() == (
        "starlette 0.40.0  GHSA-f96h-pmfr-66vw (CVE-2024-47874)  fix: 0.40.1"
    )
    assert unfixed.outcome == "unfixed"


def test_ignore_by_alias_with_expiry_and_expired_ignore_blocks_again() -> None:
    rules = parse_ignore_file(
        "vulnerabilities:\n  - id: CVE-2024-47874\n    statement: no multipart endpoints\n"
        "    expired_at: 2026-06-01\n"
    )
    kept = judge_audit(parse_audit(AUDIT_JSON), policy(), today=TODAY, ignore_file_entries=rules)
    expired = judge_audit(
        parse_audit(AUDIT_JSON), policy(), today=date(2026, 6, 2), ignore_file_entries=rules
    )

    assert kept.status == "passed"
    assert kept.message == "audit: passed — 3 packages, 0 blocking, 1 ignored, 1 without a fix"
    assert expired.status == "blocked"
    assert "[EXPIRED 2026-06-01: no multipart endpoints]" in expired.findings[0].describe()


def test_pipeline_toml_ignore_applies_and_unfixed_blocks_when_asked() -> None:
    scan = policy(
        ignore=[{"id": "GHSA-f96h-pmfr-66vw", "reason": "r", "expires": date(2026, 7, 1)}],
        ignore_unfixed=False,
    )

    result = judge_audit(parse_audit(AUDIT_JSON), scan, today=TODAY)

    assert result.message == "audit: BLOCKED — 1 known vulnerability in idna"


@pytest.mark.parametrize(("required", "blocks"), [(True, True), (False, False)])
def test_skipped_packages_are_unavailable_never_a_pass(required: bool, blocks: bool) -> None:
    # What pip-audit prints without --strict when the service is unreachable: exit 0.
    text = json.dumps(
        {
            "dependencies": [
                {"name": "anyio", "skip_reason": "Dependency not found on PyPI and could not be "
                 "audited: anyio (4.16.0)"},
                {"name": "idna", "version": "3.10", "vulns": []},
            ],
            "fixes": [],
        }
    )  # fmt: skip

    result = judge_audit(parse_audit(text), policy(audit_required=required), today=TODAY)

    assert (result.status, result.blocks) == ("unavailable", blocks)
    assert result.message.startswith(
        "audit: UNAVAILABLE — 1 of 2 packages could not be audited (anyio: Dependency not found"
    )


@pytest.mark.parametrize("text", ["", "[]", '{"dependencies": [{"version": "1"}]}', "nope"])
def test_unreadable_audit_report(text: str) -> None:
    with pytest.raises(ReportUnreadable):
        parse_audit(text)


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy or cache of the developer's leaks into a real pip-audit run."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize(("required", "blocks"), [(True, True), (False, False)])
def test_real_pip_audit_with_the_service_unreachable_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, required: bool, blocks: bool
) -> None:
    # A closed port on loopback as the proxy: the service is unreachable on any machine.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")

    result = run_audit(policy(audit_required=required), REQUIREMENTS, today=TODAY)

    assert (result.status, result.blocks) == ("unavailable", blocks)
    assert "the vulnerability service could not be used" in result.message
    assert "127.0.0.1" in result.message


class _OsvHandler(BaseHTTPRequestHandler):
    """Answers OSV /v1/query: one advisory for starlette (fixed later), none for the rest."""

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = query["package"]["name"]
        vulns = []
        if name == "starlette":
            vulns = [
                {
                    "id": "GHSA-test-0001",
                    "aliases": ["CVE-2099-0001"],
                    "summary": "test advisory",
                    "affected": [
                        {
                            "package": {"name": "starlette", "ecosystem": "PyPI"},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": "99.0.0"}],
                                }
                            ],
                        }
                    ],
                }
            ]
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsvHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("isolated")
def test_real_pip_audit_finding_blocks_and_an_ignore_with_expiry_passes(
    osv_url: str, tmp_path: Path
) -> None:
    report = tmp_path / "audit.json"

    blocked = run_audit(policy(), REQUIREMENTS, today=TODAY, osv_url=osv_url, report_path=report)
    accepted = run_audit(
        policy(ignore=[{"id": "CVE-2099-0001", "reason": "test", "expires": TODAY}]),
        REQUIREMENTS,
        today=TODAY,
        osv_url=osv_url,
    )

    assert blocked.status == "blocked", blocked.message
    assert blocked.message == "audit: BLOCKED — 1 known vulnerability in starlette"
    # Every pin of this platform was audited (tzdata is for Windows only).
    assert blocked.audited == sum(
        1
        for line in REQUIREMENTS.read_text().splitlines()
        if "==" in line and not line.startswith(" ") and "win32" not in line
    )
    [finding] = blocked.findings
    assert {finding.id, *finding.aliases} == {"GHSA-test-0001", "CVE-2099-0001"}
    assert finding.fix_versions == ("99.0.0",)
    assert json.loads(report.read_text())["dependencies"]
    assert accepted.status == "passed", accepted.message


def test_audit_command_refuses_a_missing_requirements_file(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = cli.main(
        ["--config", str(minimal_config), "audit", "--requirements", str(tmp_path / "no.txt")]
    )

    assert code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "no.txt: requirements file not found; give the app's locked requirements with "
            "--requirements FILE"
        )
    )
