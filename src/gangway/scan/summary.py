"""The human summary of a Verdict: a one-line verdict, counts, a table within 100 columns."""

from __future__ import annotations

from typing import Final

from gangway.scan.policy import SEVERITY_ORDER, Finding, Verdict

WIDTH: Final = 100
#: (heading, widest a cell may be); the gaps between columns are two spaces.
_COLUMNS: Final = (
    ("", 7),
    ("SEVERITY", 8),
    ("ID", 19),
    ("PACKAGE / FILE", 22),
    ("INSTALLED", 15),
    ("FIXED", 19),
)


def headline(verdict: Verdict) -> str:
    """`scan: BLOCKED — 2 findings block (1 CRITICAL, 1 secret)` or `scan: passed — …`."""
    if not verdict.passed:
        count = len(verdict.blocking)
        parts = [
            f"{number} {severity}"
            for severity in SEVERITY_ORDER
            if (number := verdict.blocking_by_severity.get(severity, 0))
        ]
        if verdict.blocking_secrets:
            secrets = verdict.blocking_secrets
            parts.append(f"{secrets} secret{'s' if secrets != 1 else ''}")
        noun = "finding blocks" if count == 1 else "findings block"
        text = f"scan: BLOCKED — {count} {noun} ({', '.join(parts)}"
        if verdict.expired_ignores:
            expired = len(verdict.expired_ignores)
            text += f"; {expired} ignore{'s' if expired != 1 else ''} expired"
        return text + ")"
    text = (
        f"scan: passed — 0 blocking, {len(verdict.ignored)} ignored, "
        f"{len(verdict.below_threshold)} below the threshold"
    )
    if verdict.unfixed:
        text += f", {len(verdict.unfixed)} without a fix"
    return text


def render_summary(verdict: Verdict) -> str:
    """The whole human summary, ending with a newline."""
    lines = [headline(verdict)]
    lines.append(
        "counts: "
        + ", ".join(f"{severity} {verdict.counts.get(severity, 0)}" for severity in SEVERITY_ORDER)
        + f" (fail on {', '.join(verdict.fail_on) or 'nothing'}"
        + ("; unfixed do not block)" if verdict.ignore_unfixed else ")")
    )
    lines.append(f"artifact: {verdict.artifact}")
    lines += [f"warning: {warning}" for warning in verdict.warnings]
    shown = [*verdict.blocking, *verdict.ignored]
    if shown:
        lines += ["", *_table(shown)]
    hidden = len(verdict.unfixed) + len(verdict.below_threshold)
    if hidden:
        lines += [
            "",
            f"({hidden} finding{'s' if hidden != 1 else ''} below the threshold or without "
            "a fix not shown; --json lists them)",
        ]
    lines += _details(verdict)
    return "\n".join(lines) + "\n"


def _table(findings: list[Finding]) -> list[str]:
    rows = [[heading for heading, _ in _COLUMNS]]
    for finding in findings:
        rows.append(
            [
                "BLOCK" if finding.outcome == "blocked" else "ignored",
                finding.severity,
                finding.id,
                _where(finding),
                finding.installed if finding.kind == "vulnerability" else "secret",
                finding.fixed or ("-" if finding.kind == "vulnerability" else ""),
            ]
        )
    widths = [
        min(limit, max(len(row[index]) for row in rows))
        for index, (_, limit) in enumerate(_COLUMNS)
    ]
    return [
        "  ".join(
            _fit(cell, width).ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def _where(finding: Finding) -> str:
    if finding.kind == "secret":
        return f"{finding.target}:{finding.line}"
    return finding.package


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    # Keep the end of a long path (the file name) and the start of anything else.
    if "/" in text:
        return "…" + text[-(width - 1) :]
    return text[: width - 1] + "…"


def _details(verdict: Verdict) -> list[str]:
    lines: list[str] = []
    for finding in verdict.blocking:
        if finding.kind == "secret":
            lines += [
                "",
                f"secret {finding.id} ({finding.category}, {finding.severity}) in "
                f"{finding.target}, line {finding.line}: {finding.match}",
            ]
    for note in verdict.expired_ignores:
        lines += [
            "",
            f"expired ignore: {note.id} ({note.source}) expired on {note.expires} — "
            f'"{note.reason}"; the finding blocks again',
        ]
    ignored = [finding for finding in verdict.ignored if finding.ignore is not None]
    if ignored:
        lines += ["", "ignored on purpose:"]
        lines += [
            f"  {finding.id} until {finding.ignore.expires}: {finding.ignore.reason} "
            f"({finding.ignore.source})"
            for finding in ignored
            if finding.ignore is not None
        ]
    snippets = list(dict.fromkeys(finding.accept for finding in verdict.blocking if finding.accept))
    vulnerability_snippets = [text for text in snippets if text.startswith("[[scan.ignore]]")]
    secret_snippets = [text for text in snippets if not text.startswith("[[scan.ignore]]")]
    if vulnerability_snippets:
        lines += [
            "",
            "to accept a vulnerability on purpose, upgrade the package or add to pipeline.toml:",
        ]
        for snippet in vulnerability_snippets:
            lines += ["", *snippet.splitlines()]
    if secret_snippets:
        lines += [
            "",
            "a secret must be removed from the image and rotated; a test fixture can be "
            "accepted in .trivyignore.yaml (--ignore-file):",
        ]
        # One `secrets:` list holds every entry: drop the heading each snippet repeats.
        lines += ["", "secrets:"]
        for snippet in secret_snippets:
            lines += snippet.splitlines()[1:]
    return lines
