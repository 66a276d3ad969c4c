"""The scan gate's decision: a pure function from a Trivy report and the policy to a Verdict."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fnmatch import fnmatchcase
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from gangway.config.model import ScanConfig
from gangway.config.types import Severity
from gangway.scan.report import Report, Result, Secret, Vulnerability

#: Most severe first: the order of every list and count the gate shows.
SEVERITY_ORDER: Final[tuple[Severity, ...]] = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_RANK: Final = {severity: rank for rank, severity in enumerate(SEVERITY_ORDER)}
#: How far out the suggested expiry of a new ignore entry is.
SUGGESTED_IGNORE_DAYS: Final = 30
REASON_PLACEHOLDER: Final = "TODO: why this is acceptable until it expires"

IgnoreKind = Literal["vulnerability", "secret", "misconfiguration", "license"]
Outcome = Literal["blocked", "ignored", "unfixed", "below_threshold"]


@dataclass(frozen=True)
class IgnoreRule:
    """A finding accepted on purpose until a date, from pipeline.toml or .trivyignore.yaml.

    `expires` is the last day the rule is honoured: from the next day on, the finding
    blocks again (the meaning of `expires` in pipeline.toml, applied to both sources).
    """

    id: str
    reason: str
    expires: date
    source: str
    kind: IgnoreKind = "vulnerability"
    paths: tuple[str, ...] = ()
    purls: tuple[str, ...] = ()

    def is_expired(self, today: date) -> bool:
        """Whether `today` is past the expiry date."""
        return today > self.expires

    def covers_vulnerability(self, vulnerability: Vulnerability, target: str) -> bool:
        """Whether this rule names the vulnerability (id, and paths/purls when given)."""
        if self.kind != "vulnerability" or not _same_id(self.id, vulnerability.vulnerability_id):
            return False
        if self.paths and not _path_matches(self.paths, (vulnerability.pkg_path or "", target)):
            return False
        if self.purls:
            purl = vulnerability.pkg_identifier.purl if vulnerability.pkg_identifier else None
            # A purl in the ignore file usually omits the qualifiers (?arch=…&distro=…).
            return purl is not None and any(
                wanted in (purl, purl.partition("?")[0]) for wanted in self.purls
            )
        return True

    def covers_secret(self, secret: Secret, target: str) -> bool:
        """Whether this rule names the secret (rule id, and the file when paths are given)."""
        if self.kind != "secret" or not _same_id(self.id, secret.rule_id):
            return False
        return not self.paths or _path_matches(self.paths, (target,))


def _same_id(wanted: str, found: str) -> bool:
    return wanted.casefold() == found.casefold()


def _path_matches(patterns: Sequence[str], candidates: Iterable[str]) -> bool:
    # Trivy reports image paths without the leading "/" in some targets and with it in
    # others; compare both spellings so one entry covers either.
    names = {name.lstrip("/") for name in candidates if name}
    return any(fnmatchcase(name, pattern.lstrip("/")) for pattern in patterns for name in names)


def rules_from_config(policy: ScanConfig, *, source: str = "pipeline.toml") -> list[IgnoreRule]:
    """The `[[scan.ignore]]` entries of pipeline.toml as ignore rules."""
    return [
        IgnoreRule(id=entry.id, reason=entry.reason, expires=entry.expires, source=source)
        for entry in policy.ignore
    ]


class IgnoreNote(BaseModel):
    """The ignore rule that applied to a finding (or failed to, being expired)."""

    model_config = ConfigDict(frozen=True)

    id: str
    reason: str
    expires: date
    source: str
    expired: bool


class Finding(BaseModel):
    """One vulnerability or secret as the gate judged it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["vulnerability", "secret"]
    outcome: Outcome
    id: str = Field(description="VulnerabilityID, or the RuleID of a secret.")
    severity: Severity
    target: str
    title: str = ""
    package: str = ""
    installed: str = ""
    fixed: str = ""
    status: str = ""
    url: str = ""
    line: int | None = Field(default=None, description="First line of a secret in its file.")
    category: str = ""
    match: str = Field(default="", description="A secret's matched text, redacted.")
    ignore: IgnoreNote | None = Field(
        default=None,
        description="The rule that ignored it, or the expired one that no longer does.",
    )
    accept: str = Field(default="", description="How to accept a blocking finding on purpose.")


class Verdict(BaseModel):
    """What the gate decided and why: blocking findings first, then the ones let through."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    artifact: str
    today: date
    fail_on: list[Severity]
    ignore_unfixed: bool
    counts: dict[Severity, int] = Field(description="Every finding by severity, most severe first.")
    blocking: list[Finding]
    ignored: list[Finding]
    unfixed: list[Finding]
    below_threshold: list[Finding]
    expired_ignores: list[IgnoreNote] = Field(
        description="Expired ignore rules whose finding blocks again."
    )
    warnings: list[str]

    @property
    def blocking_by_severity(self) -> dict[Severity, int]:
        """Blocking vulnerabilities by severity (secrets are counted apart)."""
        counts: dict[Severity, int] = {}
        for finding in self.blocking:
            if finding.kind == "vulnerability":
                counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return counts

    @property
    def blocking_secrets(self) -> int:
        """How many secrets block."""
        return sum(1 for finding in self.blocking if finding.kind == "secret")


def evaluate(
    report: Report,
    policy: ScanConfig,
    *,
    today: date,
    ignore_file_entries: Iterable[IgnoreRule] = (),
) -> Verdict:
    """Judge every finding of `report` against `policy` and the ignore rules, as of `today`."""
    rules = [*rules_from_config(policy), *ignore_file_entries]
    fail_on = frozenset(policy.fail_on)
    judged: list[Finding] = []
    used_expired: set[IgnoreRule] = set()
    for result in report.results:
        for vulnerability in result.vulnerabilities:
            matching = [r for r in rules if r.covers_vulnerability(vulnerability, result.target)]
            finding = _judge_vulnerability(
                vulnerability, result, matching, fail_on, policy.ignore_unfixed, today
            )
            if finding.ignore is not None and finding.ignore.expired:
                used_expired.update(r for r in matching if r.is_expired(today))
            judged.append(finding)
        for secret in result.secrets:
            matching = [r for r in rules if r.covers_secret(secret, result.target)]
            finding = _judge_secret(secret, result, matching, today)
            if finding.ignore is not None and finding.ignore.expired:
                used_expired.update(r for r in matching if r.is_expired(today))
            judged.append(finding)

    judged.sort(key=_order)
    by_outcome: dict[Outcome, list[Finding]] = {
        "blocked": [],
        "ignored": [],
        "unfixed": [],
        "below_threshold": [],
    }
    for finding in judged:
        by_outcome[finding.outcome].append(finding)
    counts: dict[Severity, int] = dict.fromkeys(SEVERITY_ORDER, 0)
    for finding in judged:
        counts[finding.severity] += 1
    return Verdict(
        passed=not by_outcome["blocked"],
        artifact=report.artifact_name,
        today=today,
        fail_on=[severity for severity in SEVERITY_ORDER if severity in fail_on],
        ignore_unfixed=policy.ignore_unfixed,
        counts=counts,
        blocking=by_outcome["blocked"],
        ignored=by_outcome["ignored"],
        unfixed=by_outcome["unfixed"],
        below_threshold=by_outcome["below_threshold"],
        expired_ignores=[_note(rule, today) for rule in _in_order(rules, used_expired)],
        warnings=[
            f"stale ignore: {rule.id} ({rule.source}) expired on {rule.expires} and no finding "
            "it covers blocks; remove it"
            for rule in rules
            if rule.is_expired(today) and rule not in used_expired
        ],
    )


def _in_order(rules: Sequence[IgnoreRule], chosen: set[IgnoreRule]) -> list[IgnoreRule]:
    return [rule for rule in dict.fromkeys(rules) if rule in chosen]


def _order(finding: Finding) -> tuple[int, int, str, str, str]:
    return (
        _RANK[finding.severity],
        0 if finding.kind == "secret" else 1,
        finding.id,
        finding.package,
        finding.target,
    )


def _note(rule: IgnoreRule, today: date) -> IgnoreNote:
    return IgnoreNote(
        id=rule.id,
        reason=rule.reason,
        expires=rule.expires,
        source=rule.source,
        expired=rule.is_expired(today),
    )


def _pick(
    matching: Sequence[IgnoreRule], today: date
) -> tuple[IgnoreRule | None, IgnoreRule | None]:
    """The active rule that applies (latest expiry), else the expired one that no longer does."""
    active = [rule for rule in matching if not rule.is_expired(today)]
    expired = [rule for rule in matching if rule.is_expired(today)]
    return (
        max(active, key=lambda rule: rule.expires) if active else None,
        max(expired, key=lambda rule: rule.expires) if expired else None,
    )


def _judge_vulnerability(
    vulnerability: Vulnerability,
    result: Result,
    matching: Sequence[IgnoreRule],
    fail_on: frozenset[Severity],
    ignore_unfixed: bool,
    today: date,
) -> Finding:
    active, expired = _pick(matching, today)
    outcome: Outcome
    if active is not None:
        outcome = "ignored"
    elif vulnerability.severity not in fail_on:
        outcome = "below_threshold"
    elif ignore_unfixed and not vulnerability.has_fix:
        # Status will_not_fix / fix_deferred / affected come without a FixedVersion:
        # there is nothing to upgrade to yet, which is what ignore_unfixed forgives.
        outcome = "unfixed"
    else:
        outcome = "blocked"
    note = active or (expired if outcome == "blocked" else None)
    return Finding(
        kind="vulnerability",
        outcome=outcome,
        id=vulnerability.vulnerability_id,
        severity=vulnerability.severity,
        target=result.target,
        title=vulnerability.title or "",
        package=vulnerability.pkg_name,
        installed=vulnerability.installed_version,
        fixed=(vulnerability.fixed_version or "").strip(),
        status=vulnerability.status or "",
        url=vulnerability.primary_url or "",
        ignore=_note(note, today) if note else None,
        accept=accept_vulnerability(vulnerability.vulnerability_id, today)
        if outcome == "blocked"
        else "",
    )


def _judge_secret(
    secret: Secret, result: Result, matching: Sequence[IgnoreRule], today: date
) -> Finding:
    # Any secret blocks whatever its severity: fail_on and ignore_unfixed do not apply.
    active, expired = _pick(matching, today)
    note = active or expired
    return Finding(
        kind="secret",
        outcome="ignored" if active else "blocked",
        id=secret.rule_id,
        severity=secret.severity,
        target=result.target,
        title=secret.title,
        line=secret.start_line,
        category=secret.category,
        match=redact(secret.match.get_secret_value()),
        ignore=_note(note, today) if note else None,
        accept="" if active else accept_secret(secret.rule_id, result.target, today),
    )


def redact(match: str) -> str:
    """A secret's matched text cut to a short prefix (at most 8 characters, a quarter)."""
    text = match.strip()
    keep = min(8, len(text) // 4)
    return f"{text[:keep]}… [redacted, {len(text)} chars]"


def suggested_expiry(today: date) -> date:
    """The expiry proposed for a new ignore entry."""
    return today + timedelta(days=SUGGESTED_IGNORE_DAYS)


def accept_vulnerability(vulnerability_id: str, today: date) -> str:
    """The `[[scan.ignore]]` entry of pipeline.toml that accepts this vulnerability."""
    return (
        "[[scan.ignore]]\n"
        f'id = "{vulnerability_id}"\n'
        f'reason = "{REASON_PLACEHOLDER}"\n'
        f"expires = {suggested_expiry(today).isoformat()}\n"
    )


def accept_secret(rule_id: str, target: str, today: date) -> str:
    """The .trivyignore.yaml entry that accepts a secret in one file (fixtures, test keys)."""
    return (
        "secrets:\n"
        f"  - id: {rule_id}\n"
        f'    paths: ["{target}"]\n'
        f'    statement: "{REASON_PLACEHOLDER}"\n'
        f"    expired_at: {suggested_expiry(today).isoformat()}\n"
    )
