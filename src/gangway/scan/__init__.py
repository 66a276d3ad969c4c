"""The scan gate: Trivy's JSON report, typed, judged against the policy of pipeline.toml.

The stage (stage.run_scan_stage) runs Trivy with the argv of scan.trivy; runners that run
Trivy themselves gate its report with stage.judge_report_text; audit.run_audit is the
dependency audit (pip-audit).
"""

from gangway.scan.audit import AuditResult, run_audit
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
from gangway.scan.stage import ScanStageResult, judge_report_text, run_scan_stage
from gangway.scan.summary import headline, render_summary

__all__ = [
    "SEVERITY_ORDER",
    "AuditResult",
    "Finding",
    "IgnoreNote",
    "IgnoreRule",
    "Report",
    "ScanStageResult",
    "Verdict",
    "evaluate",
    "headline",
    "judge_report_text",
    "load_ignore_file",
    "load_report",
    "parse_ignore_file",
    "parse_report",
    "redact",
    "render_summary",
    "rules_from_config",
    "run_audit",
    "run_scan_stage",
]
