"""`gangway pipeline`: the whole road on the local Docker engine (what `nox -s pipeline` runs)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from gangway.cli.common import Subcommands, config_path
from gangway.config import load_config
from gangway.config.values import check_version, flag_value
from gangway.stages.graph import STAGES, render_table, run_stages
from gangway.stages.local import (
    LocalPipeline,
    default_version,
    git_revision,
    notify_stopped,
    safe_tag,
)
from gangway.stages.scan import scan_stage


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add the `pipeline` subcommand to the `gangway` parser."""
    pipeline = commands.add_parser(
        "pipeline",
        parents=[common],
        help="run every stage on the local Docker engine: test, build, scan, publish, "
        "deploy-staging, integration-test, deploy-production",
        description="Run the stage graph with the plain Docker engine, from the repository "
        "that holds pipeline.toml. The first failed stage stops the road; the end prints a "
        "summary table and writes report.json in the run's directory.",
    )
    pipeline.add_argument(
        "--through",
        choices=STAGES,
        default=STAGES[-1],
        metavar="STAGE",
        help=f"stop after this stage (one of: {', '.join(STAGES)}; default: all)",
    )
    pipeline.add_argument(
        "--version",
        dest="release_version",
        type=flag_value(check_version),
        metavar="V",
        help="version (image tag) to publish and deploy (default: the git commit)",
    )
    pipeline.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where logs, scan reports and report.json go (default: .gangway/runs/<stamp>)",
    )
    pipeline.add_argument(
        "--trivy-binary",
        metavar="PATH",
        help="run this trivy binary instead of the pinned scanner image (same arguments)",
    )
    pipeline.set_defaults(command=run_pipeline)


def run_pipeline(args: argparse.Namespace) -> int:
    path = config_path(args).resolve()
    config = load_config(path)
    root = path.parent
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    revision, dirty = git_revision(root)
    version = safe_tag(args.release_version) if args.release_version else None
    out_dir = (args.out or root / ".gangway" / "runs" / stamp).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = LocalPipeline(
        config=config,
        config_path=path,
        root=root,
        version=version or default_version(revision, dirty, stamp),
        revision=revision,
        out_dir=out_dir,
        scan_stage=scan_stage,
        trivy_binary=args.trivy_binary,
    )
    print(
        f"pipeline: {config.app.name} {runner.version} -> {runner.image} (run: {out_dir})",
        file=sys.stderr,
        flush=True,
    )
    began = time.monotonic()
    report = run_stages(runner.stages(args.through), out=sys.stderr)
    if report.outcome == "failed":
        notify_stopped(runner, report, time.monotonic() - began)
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
    sys.stderr.write("\n" + render_table(report))
    print(f"report: {out_dir / 'report.json'}", file=sys.stderr)
    return 0 if report.outcome == "passed" else 1
