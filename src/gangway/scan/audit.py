"""The dependency audit of the app's locked requirements (pip-audit), gated like the scan.

pip-audit's trap: where its vulnerability service cannot be reached it skips every package
and says "No known vulnerabilities found" with exit 0, unless `--strict`. Here it always
runs with `--strict`, and the JSON is read too: any package it could not audit makes the
audit *unavailable*, never a pass; scan.audit_required decides whether that blocks.

    pip_audit_argv()   the command (pure)
    parse_audit()      pip-audit's JSON, typed
    judge_audit()      findings against the ignore rules (with expiry) and ignore_unfixed
    run_audit()        runs it through an Executor and returns an AuditResult
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gangway.commands.docker import Command
from gangway.config.model import ScanConfig
from gangway.errors import CommandFailed, ReportUnreadable
from gangway.execute import Executor, LocalProcess, Result
from gangway.scan.policy import IgnoreRule, rules_from_config
from gangway.scan.report import json_path

AuditStatus = Literal["passed", "blocked", "unavailable", "error"]
AuditOutcome = Literal["blocked", "ignored", "unfixed"]

DEFAULT_REQUIREMENTS: Final = "app/requirements.txt"
AUDIT_TIMEOUT: Final = 600.0
#: What pip-audit prints when its vulnerability service cannot answer.
_UNAVAILABLE_SIGNS: Final = (
    "could not be audited",
    "ConnectionError",
    "ProxyError",
    "ConnectTimeout",
    "ReadTimeout",
    "Max retries exceeded",
    "Failed to establish a new connection",
    "NameResolutionError",
    "SSLError",
    "ServiceError",
    "No module named pip_audit",
)


def pip_audit_argv(
    requirements: str,
    *,
    output: str,
    python: str = sys.executable,
    osv_url: str | None = None,
) -> list[str]:
    """pip-audit over a locked requirements file, without installing or resolving anything.

    `--strict` makes an unreachable service an error instead of a silent skip;
    `--no-deps --disable-pip` audit the pins as written (the file is the lock);
    `osv_url` queries an OSV-compatible service instead of the default one.
    """
    argv = [
        python, "-m", "pip_audit",
        "--requirement", requirements,
        "--strict",
        "--no-deps",
        "--disable-pip",
        "--format", "json",
        "--progress-spinner", "off",
        "--output", output,
    ]  # fmt: skip
    if osv_url is not None:
        argv += ["--vulnerability-service", "osv", "--osv-url", osv_url]
    return argv


class _AuditModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class AuditVulnerability(_AuditModel):
    """One advisory against one pinned package."""

    id: str
    fix_versions: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    description: str = ""


class AuditDependency(_AuditModel):
    """One requirement as pip-audit saw it: audited (version, vulns) or skipped (why)."""

    name: str
    version: str | None = None
    vulns: list[AuditVulnerability] = Field(default_factory=list)
    skip_reason: str | None = None


class AuditReport(_AuditModel):
    """`pip-audit --format json` output."""

    dependencies: list[AuditDependency]


def parse_audit(text: str | bytes, *, file: str = "<pip-audit>") -> AuditReport:
    """Validate pip-audit's JSON output; ReportUnreadable saying what is wrong."""
    if not text.strip():
        raise ReportUnreadable(file, "empty: pip-audit wrote no report")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportUnreadable(file, f"not JSON: {exc}") from None
    try:
        return AuditReport.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = json_path(first["loc"])
        raise ReportUnreadable(
            file, f"not a pip-audit JSON report: {where + ': ' if where else ''}{first['msg']}"
        ) from None


@dataclass(frozen=True)
class AuditFinding:
    """One vulnerable package as the gate judged it."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    outcome: AuditOutcome
    ignore: IgnoreRule | None = None

    def describe(self) -> str:
        """`starlette 0.40.0  PYSEC-2024-1 (CVE-2024-1)  fix: 0.40.1`, plus the ignore note."""
        ids = self.id + (f" ({', '.join(self.aliases)})" if self.aliases else "")
        fix = ", ".join(self.fix_versions) or "none yet"
        text = f"{self.package} {self.version}  {ids}  fix: {fix}"
        if self.ignore is not None:
            state = "EXPIRED" if self.outcome == "blocked" else "ignored until"
            text += f"  [{state} {self.ignore.expires}: {self.ignore.reason}]"
        return text


@dataclass
class AuditResult:
    """How the audit ended: status, a one-line verdict, the findings, whether it blocks."""

    status: AuditStatus
    message: str
    blocks: bool
    findings: list[AuditFinding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    audited: int = 0


def judge_audit(
    report: AuditReport,
    scan: ScanConfig,
    *,
    today: date,
    ignore_file_entries: Iterable[IgnoreRule] = (),
) -> AuditResult:
    """Every advisory blocks unless ignored (same rules and expiry as the image scan) or,
    with ignore_unfixed, it has no fixed version; any skipped package makes it unavailable."""
    rules = [
        rule
        for rule in (*rules_from_config(scan), *ignore_file_entries)
        if rule.kind == "vulnerability"
    ]
    findings: list[AuditFinding] = []
    skipped: list[str] = []
    audited = 0
    for dependency in report.dependencies:
        if dependency.skip_reason is not None:
            skipped.append(f"{dependency.name}: {dependency.skip_reason}")
            continue
        audited += 1
        for vuln in dependency.vulns:
            findings.append(_judge(dependency, vuln, rules, scan.ignore_unfixed, today))
    findings.sort(key=lambda finding: (finding.outcome != "blocked", finding.package, finding.id))
    blocking = [finding for finding in findings if finding.outcome == "blocked"]
    if blocking:
        packages = sorted({finding.package for finding in blocking})
        message = (
            f"audit: BLOCKED — {len(blocking)} known "
            f"vulnerabilit{'y' if len(blocking) == 1 else 'ies'} in {', '.join(packages)}"
        )
        if skipped:
            message += f" ({len(skipped)} more packages could not be audited)"
        return AuditResult("blocked", message, True, findings, skipped, audited)
    if skipped:
        reason = f"{len(skipped)} of {len(report.dependencies)} packages could not be audited"
        return _unavailable(scan, f"{reason} ({skipped[0]})", findings, skipped, audited)
    ignored = sum(1 for finding in findings if finding.outcome == "ignored")
    unfixed = sum(1 for finding in findings if finding.outcome == "unfixed")
    message = f"audit: passed — {audited} packages, 0 blocking"
    if ignored or unfixed:
        message += f", {ignored} ignored, {unfixed} without a fix"
    else:
        message += ", no known vulnerabilities"
    return AuditResult("passed", message, False, findings, skipped, audited)


def _judge(
    dependency: AuditDependency,
    vuln: AuditVulnerability,
    rules: Sequence[IgnoreRule],
    ignore_unfixed: bool,
    today: date,
) -> AuditFinding:
    ids = {vuln.id.casefold(), *(alias.casefold() for alias in vuln.aliases)}
    matching = [rule for rule in rules if rule.id.casefold() in ids]
    active = [rule for rule in matching if not rule.is_expired(today)]
    expired = [rule for rule in matching if rule.is_expired(today)]
    outcome: AuditOutcome
    if active:
        outcome, note = "ignored", max(active, key=lambda rule: rule.expires)
    elif ignore_unfixed and not vuln.fix_versions:
        outcome, note = "unfixed", None
    else:
        outcome = "blocked"
        note = max(expired, key=lambda rule: rule.expires) if expired else None
    return AuditFinding(
        package=dependency.name,
        version=dependency.version or "?",
        id=vuln.id,
        aliases=tuple(vuln.aliases),
        fix_versions=tuple(vuln.fix_versions),
        outcome=outcome,
        ignore=note,
    )


def _unavailable(
    scan: ScanConfig,
    reason: str,
    findings: list[AuditFinding] | None = None,
    skipped: list[str] | None = None,
    audited: int = 0,
) -> AuditResult:
    if scan.audit_required:
        message = (
            f"audit: UNAVAILABLE — {reason}; blocked (scan.audit_required = true: "
            "an unaudited dependency set is never a pass)"
        )
    else:
        message = (
            f"audit: UNAVAILABLE — {reason}; NOT BLOCKING because scan.audit_required = "
            "false: the dependencies were NOT audited"
        )
    return AuditResult(
        "unavailable", message, scan.audit_required, findings or [], skipped or [], audited
    )


def _what_went_wrong(result: Result) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    lines = [line for line in lines if line and not line.startswith("WARNING:")]
    text = lines[-1] if lines else f"exit code {result.returncode}"
    text = text.removeprefix("ERROR:pip_audit._cli:")
    return text if len(text) <= 300 else text[:297] + "..."


def run_audit(
    scan: ScanConfig,
    requirements: Path,
    *,
    today: date | None = None,
    ignore_file_entries: Iterable[IgnoreRule] = (),
    executor: Executor | None = None,
    report_path: Path | None = None,
    osv_url: str | None = None,
) -> AuditResult:
    """Audit `requirements` with pip-audit and judge it; the JSON goes to `report_path`
    (kept as an artifact) or a temporary file."""
    executor = executor or LocalProcess()
    today = today or date.today()
    with tempfile.TemporaryDirectory(prefix="gangway-audit-") as work:
        output = report_path or Path(work) / "audit.json"
        output.unlink(missing_ok=True)
        command = Command(
            tuple(pip_audit_argv(str(requirements), output=str(output), osv_url=osv_url)),
            f"audit {requirements}",
        )
        try:
            result = executor.run(command, check=False, timeout=AUDIT_TIMEOUT)
        except CommandFailed as exc:  # could not start, or timed out
            result = Result(exc.returncode, exc.stdout, exc.stderr)
        text = output.read_bytes() if output.is_file() else b""
    if text.strip():
        # pip-audit exits 1 when it finds vulnerabilities: the JSON decides, not the code.
        try:
            report = parse_audit(text, file=str(output))
        except ReportUnreadable as exc:
            return AuditResult("error", f"audit: ERROR — {exc}; blocked", True)
        return judge_audit(report, scan, today=today, ignore_file_entries=ignore_file_entries)
    what = _what_went_wrong(result)
    if any(sign in f"{result.stderr}\n{result.stdout}" for sign in _UNAVAILABLE_SIGNS):
        return _unavailable(scan, f"the vulnerability service could not be used ({what})")
    return AuditResult(
        "error",
        f"audit: ERROR — pip-audit exited {result.returncode} without a report: {what}; blocked",
        True,
    )
