"""`gangway scan`: scan an image and gate it, or gate an existing Trivy JSON report."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Final

from gangway.cli.common import Subcommands, config_path, print_json
from gangway.config import ScanConfig, load_config
from gangway.errors import ConfigError, ConfigProblem
from gangway.progress import Progress
from gangway.scan.audit import DEFAULT_REQUIREMENTS, run_audit
from gangway.scan.ignore_file import load_ignore_file
from gangway.scan.policy import evaluate
from gangway.scan.report import load_report
from gangway.scan.stage import (
    SUMMARY,
    choose_trivy,
    plan_scan_stage,
    run_scan_stage,
)
from gangway.scan.summary import headline, render_summary

EXIT_PASSED: Final = 0
EXIT_BLOCKED: Final = 1
DEFAULT_OUT: Final = "build/scan"


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add the `scan` and `audit` subcommands to the `gangway` parser."""
    scan = commands.add_parser(
        "scan",
        parents=[common],
        help="scan an image with Trivy and gate it, or gate an existing Trivy JSON report "
        "(exit 0 pass, 1 blocked or scan failed, 2 bad usage or unreadable report)",
        description="With --image: save the image, run Trivy (vulnerabilities and secrets, "
        "SBOM, Dockerfile lint) in its pinned container or a local binary, gate the JSON "
        "report against [scan] of pipeline.toml and write report.json, report.sarif, "
        "sbom.cdx.json, config-lint.json and summary.txt. With --report: judge an existing "
        "`trivy --format json` report. Any secret blocks; an expired ignore blocks again.",
    )
    what = scan.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", metavar="IMAGE", help="local image (name or id) to scan")
    what.add_argument("--report", type=Path, metavar="FILE", help="Trivy JSON report to judge")
    scan.add_argument(
        "--ignore-file",
        type=Path,
        metavar="FILE",
        help="a .trivyignore.yaml whose entries (with statement and expired_at) also apply",
    )
    scan.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        metavar="DIR",
        help=f"with --image: where the artifacts go (default: {DEFAULT_OUT})",
    )
    scan.add_argument(
        "--trivy-binary",
        metavar="PATH",
        help="with --image: run this trivy binary instead of the scan.trivy_image container",
    )
    scan.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="with --trivy-binary: Trivy's cache directory (default: ~/.cache/trivy)",
    )
    scan.add_argument(
        "--dry-run", action="store_true", help="with --image: print the commands, run nothing"
    )
    scan.add_argument(
        "--json", action="store_true", help="with --report: print the verdict as JSON"
    )
    scan.set_defaults(command=run_scan)

    audit = commands.add_parser(
        "audit",
        parents=[common],
        help="audit the app's locked Python dependencies with pip-audit (exit 0 pass, "
        "1 blocked or unavailable when required, 2 bad usage)",
        description="Run pip-audit --strict on a locked requirements file and gate its JSON "
        "with the [scan] policy: every known vulnerability blocks unless ignored with an "
        "expiry ([[scan.ignore]], --ignore-file) or, with ignore_unfixed, it has no fix yet. "
        "A service that cannot be reached is 'audit unavailable', never a pass; "
        "scan.audit_required decides whether that blocks.",
    )
    audit.add_argument(
        "--requirements",
        type=Path,
        default=Path(DEFAULT_REQUIREMENTS),
        metavar="FILE",
        help=f"locked requirements file, pinned (default: {DEFAULT_REQUIREMENTS})",
    )
    audit.add_argument(
        "--ignore-file",
        type=Path,
        metavar="FILE",
        help="a .trivyignore.yaml whose vulnerabilities: entries also apply",
    )
    audit.add_argument(
        "--report", type=Path, metavar="FILE", help="keep pip-audit's JSON report in FILE"
    )
    audit.set_defaults(command=run_audit_command)


def run_scan(args: argparse.Namespace) -> int:
    """Judge a report (--report) or run the scan stage on an image (--image)."""
    if args.image is not None:
        return run_image_scan(args)
    policy = _scan_policy(args.config)
    report = load_report(args.report)
    rules = load_ignore_file(args.ignore_file) if args.ignore_file is not None else ()
    verdict = evaluate(report, policy, today=date.today(), ignore_file_entries=rules)
    if args.json:
        document = {"summary": headline(verdict), **verdict.model_dump(mode="json")}
        print_json(document)
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


def run_image_scan(args: argparse.Namespace) -> int:
    """`gangway scan --image`: the whole scan stage, or its commands with --dry-run."""
    config = load_config(config_path(args))
    trivy = choose_trivy(config, binary=args.trivy_binary, cache_dir=args.cache_dir)
    if args.dry_run:
        root = Path(config.origin.file).resolve().parent if config.origin else Path.cwd()
        work = Path(tempfile.gettempdir()) / "gangway-scan-XXXXXXXX"
        for planned in plan_scan_stage(
            config, args.image, args.out, trivy=trivy, work_dir=work, root=root
        ):
            print(f"# {planned.step}: {planned.command.purpose}")
            print(planned.command.shell())
        print("# then: the gate reads report.json in Python; summary.txt is written")
        return EXIT_PASSED
    result = run_scan_stage(
        config,
        args.image,
        args.out,
        trivy=trivy,
        ignore_file=args.ignore_file,
        progress=Progress(quiet=False),
    )
    summary = args.out / SUMMARY
    if summary.is_file():
        sys.stdout.write(summary.read_text(encoding="utf-8"))
    print(f"artifacts: {', '.join(str(path) for path in result.artifacts)}")
    print(result.message)
    return EXIT_BLOCKED if result.blocks else EXIT_PASSED


def run_audit_command(args: argparse.Namespace) -> int:
    """`gangway audit`: pip-audit the locked requirements, print findings and the verdict."""
    policy = _scan_policy(args.config)
    requirements: Path = args.requirements
    if not requirements.is_file():
        raise ConfigError(
            [
                ConfigProblem(
                    "requirements file not found; give the app's locked requirements "
                    "with --requirements FILE",
                    file=str(requirements),
                )
            ]
        )
    rules = load_ignore_file(args.ignore_file) if args.ignore_file is not None else ()
    print(f"audit: pip-audit --strict on {requirements} ...", file=sys.stderr, flush=True)
    result = run_audit(policy, requirements, ignore_file_entries=rules, report_path=args.report)
    for finding in result.findings:
        label = {"blocked": "BLOCK", "ignored": "ignored", "unfixed": "no fix"}[finding.outcome]
        print(f"{label:7}  {finding.describe()}")
    print(result.message)
    return EXIT_BLOCKED if result.blocks else EXIT_PASSED
