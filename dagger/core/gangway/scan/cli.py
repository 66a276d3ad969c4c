"""`gangway scan`: apply the gate to an existing Trivy JSON report (exit 0 pass, 1 blocked)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Final

from gangway.config import ScanConfig, load_config
from gangway.scan.ignore_file import load_ignore_file
from gangway.scan.policy import evaluate
from gangway.scan.report import load_report
from gangway.scan.summary import headline, render_summary

EXIT_PASSED: Final = 0
EXIT_BLOCKED: Final = 1


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the `scan` subcommand to the `gangway` parser."""
    scan = commands.add_parser(
        "scan",
        parents=[common],
        help="apply the scan gate to a Trivy JSON report (exit 0 pass, 1 blocked, 2 unreadable)",
        description="Judge an existing `trivy --format json` report against [scan] of "
        "pipeline.toml: fail_on, ignore_unfixed and the [[scan.ignore]] entries. Any secret "
        "blocks; an expired ignore blocks again.",
    )
    scan.add_argument(
        "--report", required=True, type=Path, metavar="FILE", help="Trivy JSON report to judge"
    )
    scan.add_argument(
        "--ignore-file",
        type=Path,
        metavar="FILE",
        help="a .trivyignore.yaml whose entries (with statement and expired_at) also apply",
    )
    scan.add_argument("--json", action="store_true", help="print the verdict as JSON")
    scan.set_defaults(command=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    """Load the policy, the report and the ignore file, print the verdict, return its code."""
    policy = _scan_policy(args.config)
    report = load_report(args.report)
    rules = load_ignore_file(args.ignore_file) if args.ignore_file is not None else ()
    verdict = evaluate(report, policy, today=date.today(), ignore_file_entries=rules)
    if args.json:
        document = {"summary": headline(verdict), **verdict.model_dump(mode="json")}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_summary(verdict))
    return EXIT_PASSED if verdict.passed else EXIT_BLOCKED


def _scan_policy(config: Path | None) -> ScanConfig:
    explicit = config or os.environ.get("GANGWAY_CONFIG")
    path = Path(explicit) if explicit else Path("pipeline.toml")
    if not explicit and not path.exists():
        # A team that runs Trivy elsewhere may have no pipeline.toml: the defaults are the
        # strictest policy (nothing ignored), so falling back to them never lets more through.
        print(
            "scan: no ./pipeline.toml; using the default policy (fail on HIGH, CRITICAL; "
            "unfixed do not block; no ignores)",
            file=sys.stderr,
        )
        return ScanConfig()
    return load_config(path).scan
