"""The scan gate: Trivy's JSON report, typed, judged against the policy of pipeline.toml."""

from gangway.scan.ignore_file import load_ignore_file, parse_ignore_file
from gangway.scan.policy import (
    SEVERITY_ORDER,
    Finding,
    IgnoreNote,
    IgnoreRule,
    Verdict,
    evaluate,
    redact,
    rules_from_config,
)
from gangway.scan.report import Report, load_report, parse_report
from gangway.scan.summary import headline, render_summary

__all__ = [
    "SEVERITY_ORDER",
    "Finding",
    "IgnoreNote",
    "IgnoreRule",
    "Report",
    "Verdict",
    "evaluate",
    "headline",
    "load_ignore_file",
    "load_report",
    "parse_ignore_file",
    "parse_report",
    "redact",
    "render_summary",
    "rules_from_config",
]
