"""The gate's decision on the project's own small reports: what blocks, what is let through."""

from __future__ import annotations

from datetime import date, timedelta

from gangway.scan import IgnoreRule, evaluate, redact

from .conftest import TODAY, own_report, policy


def ids(findings: object) -> list[str]:
    assert isinstance(findings, list)
    return [finding.id for finding in findings]


def test_critical_with_a_fix_blocks_with_package_versions_and_how_to_accept() -> None:
    verdict = evaluate(own_report("critical-with-fix.json"), policy(), today=TODAY)

    assert not verdict.passed
    assert ids(verdict.blocking) == ["CVE-2024-0001", "GHSA-abcd-efgh-ijkl"]
    critical = verdict.blocking[0]
    assert (critical.package, critical.installed, critical.fixed) == (
        "libexample",
        "1.0-1",
        "1.0-1+deb12u1",
    )
    assert critical.accept == (
        "[[scan.ignore]]\n"
        'id = "CVE-2024-0001"\n'
        'reason = "TODO: why this is acceptable until it expires"\n'
        "expires = 2026-07-01\n"
    )
    assert ids(verdict.below_threshold) == ["CVE-2024-0003", "CVE-2024-0002"]
    assert verdict.counts == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 0}
    assert list(verdict.counts) == ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]


def test_fail_on_decides_which_severities_block() -> None:
    report = own_report("critical-with-fix.json")

    only_critical = evaluate(report, policy(fail_on=["critical"]), today=TODAY)
    everything = evaluate(
        report, policy(fail_on=["LOW", "MEDIUM", "HIGH", "CRITICAL"]), today=TODAY
    )

    assert ids(only_critical.blocking) == ["CVE-2024-0001"]
    assert ids(only_critical.below_threshold) == [
        "GHSA-abcd-efgh-ijkl",
        "CVE-2024-0003",
        "CVE-2024-0002",
    ]
    # ignore_unfixed still forgives the unfixed LOW bash finding
    assert ids(everything.blocking) == ["CVE-2024-0001", "GHSA-abcd-efgh-ijkl", "CVE-2024-0003"]
    assert ids(everything.unfixed) == ["CVE-2024-0002"]


def test_only_unfixed_findings_pass_when_ignore_unfixed_is_on() -> None:
    verdict = evaluate(own_report("unfixed-only.json"), policy(), today=TODAY)

    assert verdict.passed
    assert ids(verdict.unfixed) == ["CVE-2024-1002", "CVE-2024-1001", "CVE-2024-1003"]


def test_unfixed_findings_block_when_ignore_unfixed_is_off() -> None:
    verdict = evaluate(own_report("unfixed-only.json"), policy(ignore_unfixed=False), today=TODAY)

    assert not verdict.passed
    assert ids(verdict.blocking) == ["CVE-2024-1002", "CVE-2024-1001", "CVE-2024-1003"]
    assert verdict.blocking[0].fixed == ""


def test_an_ignore_entry_suppresses_only_its_finding() -> None:
    config = policy(
        ignore=[{"id": "CVE-2024-0001", "reason": "not reachable", "expires": "2026-06-30"}]
    )

    verdict = evaluate(own_report("critical-with-fix.json"), config, today=TODAY)

    assert ids(verdict.ignored) == ["CVE-2024-0001"]
    note = verdict.ignored[0].ignore
    assert note is not None
    assert (note.reason, note.expires, note.source, note.expired) == (
        "not reachable",
        date(2026, 6, 30),
        "pipeline.toml",
        False,
    )
    assert ids(verdict.blocking) == ["GHSA-abcd-efgh-ijkl"]
    assert verdict.ignored[0].accept == ""


def test_an_ignore_is_honoured_through_its_expiry_date() -> None:
    config = policy(ignore=[{"id": "CVE-2024-0001", "reason": "r", "expires": TODAY.isoformat()}])

    verdict = evaluate(own_report("critical-with-fix.json"), config, today=TODAY)

    assert ids(verdict.ignored) == ["CVE-2024-0001"]


def test_an_expired_ignore_blocks_again_and_says_when_it_expired() -> None:
    expired = TODAY - timedelta(days=1)
    config = policy(
        ignore=[{"id": "CVE-2024-0001", "reason": "waiting on upstream", "expires": expired}]
    )

    verdict = evaluate(own_report("critical-with-fix.json"), config, today=TODAY)

    assert not verdict.passed
    assert ids(verdict.blocking)[0] == "CVE-2024-0001"
    note = verdict.blocking[0].ignore
    assert note is not None
    assert note.expired
    assert note.expires == expired
    assert [(n.id, n.expires) for n in verdict.expired_ignores] == [("CVE-2024-0001", expired)]
    assert verdict.warnings == []


def test_an_active_ignore_wins_over_an_expired_one_for_the_same_id() -> None:
    config = policy(
        ignore=[
            {"id": "CVE-2024-0001", "reason": "old", "expires": "2026-01-01"},
            {"id": "CVE-2024-0001", "reason": "renewed", "expires": "2026-12-31"},
        ]
    )

    verdict = evaluate(own_report("critical-with-fix.json"), config, today=TODAY)

    assert ids(verdict.ignored) == ["CVE-2024-0001"]
    assert verdict.ignored[0].ignore is not None
    assert verdict.ignored[0].ignore.reason == "renewed"
    assert verdict.expired_ignores == []
    assert len(verdict.warnings) == 1


def test_an_expired_ignore_whose_finding_is_absent_is_a_stale_warning_not_a_block() -> None:
    config = policy(ignore=[{"id": "CVE-1999-0001", "reason": "gone", "expires": "2026-01-31"}])

    verdict = evaluate(own_report("clean.json"), config, today=TODAY)

    assert verdict.passed
    assert verdict.warnings == [
        "stale ignore: CVE-1999-0001 (pipeline.toml) expired on 2026-01-31 and no finding it "
        "covers blocks; remove it"
    ]


def test_ignore_file_rules_apply_with_their_paths() -> None:
    rule = IgnoreRule(
        id="GHSA-abcd-efgh-ijkl",
        reason="dev only",
        expires=date(2026, 12, 31),
        source=".trivyignore.yaml:3",
        paths=("app/*.lock",),
    )
    elsewhere = IgnoreRule(
        id="CVE-2024-0001",
        reason="r",
        expires=date(2026, 12, 31),
        source=".trivyignore.yaml:8",
        paths=("usr/lib/other",),
    )

    verdict = evaluate(
        own_report("critical-with-fix.json"),
        policy(),
        today=TODAY,
        ignore_file_entries=[rule, elsewhere],
    )

    assert ids(verdict.ignored) == ["GHSA-abcd-efgh-ijkl"]
    assert ids(verdict.blocking) == ["CVE-2024-0001"]


def test_any_secret_blocks_whatever_its_severity_and_is_redacted() -> None:
    verdict = evaluate(own_report("secret.json"), policy(fail_on=["CRITICAL"]), today=TODAY)

    assert not verdict.passed
    secret = verdict.blocking[0]
    assert (secret.kind, secret.id, secret.severity, secret.target, secret.line) == (
        "secret",
        "github-pat",
        "LOW",
        "/app/settings.sh",
        4,
    )
    assert "ghp_" not in secret.match
    assert "ghp_0123" not in verdict.model_dump_json()


def test_a_pipeline_toml_ignore_never_hides_a_secret() -> None:
    config = policy(ignore=[{"id": "github-pat", "reason": "r", "expires": "2026-12-31"}])

    verdict = evaluate(own_report("secret.json"), config, today=TODAY)

    assert ids(verdict.blocking) == ["github-pat"]


def test_a_secret_entry_of_the_ignore_file_accepts_a_secret_in_that_file_only() -> None:
    def rule(path: str) -> IgnoreRule:
        return IgnoreRule(
            id="github-pat",
            reason="test fixture",
            expires=date(2026, 12, 31),
            source="i.yaml:2",
            kind="secret",
            paths=(path,),
        )

    report = own_report("secret.json")

    assert evaluate(
        report, policy(), today=TODAY, ignore_file_entries=[rule("app/settings.sh")]
    ).passed
    assert not evaluate(
        report, policy(), today=TODAY, ignore_file_entries=[rule("other.sh")]
    ).passed


def test_a_clean_report_passes_with_zero_counts() -> None:
    verdict = evaluate(own_report("clean.json"), policy(), today=TODAY)

    assert verdict.passed
    assert sum(verdict.counts.values()) == 0
    assert verdict.blocking == verdict.ignored == []


def test_redact_keeps_at_most_a_short_prefix() -> None:
    match = "export GITHUB_PAT=ghp_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

    assert redact(match) == "export G… [redacted, 58 chars]"
    assert redact("abc") == "… [redacted, 3 chars]"
