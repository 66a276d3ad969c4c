"""The scan stage: save the image, run Trivy, gate the JSON in Python, write the artifacts.

    plan_scan_stage()   the commands, in order (pure; `gangway scan --dry-run` prints them)
    run_scan_stage()    runs them through an Executor and decides:
        passed       the report was read and nothing blocks
        blocked      the report was read and a finding blocks (the gate's Verdict)
        unavailable  Trivy could not scan: no scanner image, no vulnerability database;
                     blocks when scan.required (never a silent pass)
        error        anything else that left no trustworthy report: always blocks

Trivy's exit code is never the verdict: a fatal Trivy error also exits 1 and writes no
report, and is an error of the stage, never confused with "vulnerable".
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final, Literal, TextIO

from gangway.commands.docker import Command
from gangway.config.model import PipelineConfig, ScanConfig
from gangway.errors import CommandFailed, ReportUnreadable
from gangway.execute import DockerCli, Executor, Result
from gangway.progress import Progress
from gangway.scan.ignore_file import load_ignore_file, parse_ignore_file
from gangway.scan.policy import IgnoreRule, Verdict, evaluate
from gangway.scan.report import Report, parse_report

# The runners' home is scan.scanner; these names stay importable from here.
from gangway.scan.scanner import ContainerTrivy, TrivyRunner
from gangway.scan.scanner import LocalTrivy as LocalTrivy
from gangway.scan.scanner import choose_trivy as choose_trivy
from gangway.scan.scanner import trivy_runner as trivy_runner
from gangway.scan.summary import headline, render_summary
from gangway.scan.trivy import (
    Mount,
    config_lint_args,
    sarif_args,
    sbom_args,
    secret_scan_args,
    vuln_scan_args,
)

StageStatus = Literal["passed", "blocked", "unavailable", "error"]
Step = Literal["save", "scan", "secrets", "sarif", "sbom", "lint"]

REPORT: Final = "report.json"
SARIF: Final = "report.sarif"
SBOM: Final = "sbom.cdx.json"
CONFIG_LINT: Final = "config-lint.json"
SUMMARY: Final = "summary.txt"
IMAGE_TAR: Final = "image.tar"
#: Seconds one step may take: saving a large image, or a first database download.
STEP_TIMEOUT: Final = 900.0

#: What Trivy or docker print when the scanner or its database cannot be had: the scan
#: is unavailable (scan.required decides), not broken.
_UNAVAILABLE_SIGNS: Final = (
    "DB error",
    "failed to download vulnerability DB",
    "--skip-db-update cannot be specified on the first run",
    "Unable to find image",
    "No such image",
    "pull access denied",
    "manifest unknown",
)


@dataclass(frozen=True)
class PlannedStep:
    """One command of the stage and the step it belongs to."""

    step: Step
    command: Command


def plan_scan_stage(
    config: PipelineConfig,
    image: str,
    out_dir: Path,
    *,
    trivy: TrivyRunner,
    work_dir: Path,
    root: Path,
) -> list[PlannedStep]:
    """Every command of the stage, in the order it runs them (absolute paths throughout)."""
    scan = config.scan
    out = out_dir.resolve()
    work = work_dir.resolve()
    tarball = str(work / IMAGE_TAR)
    report = str(out / REPORT)
    dockerfile = (root / config.image.dockerfile).resolve()
    cache = trivy.cache_dir
    image_mounts = [Mount(str(work), str(work), read_only=True), Mount(str(out), str(out))]
    out_mounts = [Mount(str(out), str(out))]
    lint_mounts = [
        Mount(str(dockerfile.parent), str(dockerfile.parent), read_only=True),
        *out_mounts,
    ]
    return [
        PlannedStep(
            "save",
            Command(("docker", "save", "--output", tarball, image), f"save {image} as a tarball"),
        ),
        PlannedStep(
            "scan",
            Command(
                tuple(
                    trivy.argv(
                        vuln_scan_args(scan, input_tar=tarball, report=report, cache_dir=cache),
                        mounts=image_mounts,
                    )
                ),
                "scan for vulnerabilities and secrets",
            ),
        ),
        PlannedStep(
            "secrets",
            Command(
                tuple(
                    trivy.argv(
                        secret_scan_args(scan, input_tar=tarball, report=report, cache_dir=cache),
                        mounts=image_mounts,
                    )
                ),
                "scan for secrets only (when the vulnerability scan is unavailable)",
            ),
        ),
        PlannedStep(
            "sarif",
            Command(
                tuple(
                    trivy.argv(
                        sarif_args(report=report, output=str(out / SARIF)), mounts=out_mounts
                    )
                ),
                "convert the report to SARIF",
            ),
        ),
        PlannedStep(
            "sbom",
            Command(
                tuple(
                    trivy.argv(
                        sbom_args(scan, input_tar=tarball, output=str(out / SBOM), cache_dir=cache),
                        mounts=image_mounts,
                    )
                ),
                "write the CycloneDX SBOM",
            ),
        ),
        PlannedStep(
            "lint",
            Command(
                tuple(
                    trivy.argv(
                        config_lint_args(
                            target=str(dockerfile), output=str(out / CONFIG_LINT), cache_dir=cache
                        ),
                        mounts=lint_mounts,
                    )
                ),
                f"lint {config.image.dockerfile}",
            ),
        ),
    ]


@dataclass
class ScanStageResult:
    """How the scan stage ended: its status, a one-line verdict, the files it wrote."""

    status: StageStatus
    message: str
    artifacts: list[Path] = field(default_factory=list)
    blocks: bool = True
    verdict: Verdict | None = None
    lint_warnings: list[str] = field(default_factory=list)
    hint: str = ""


def judge_report_text(
    config: ScanConfig, text: str | bytes, *, ignore_file_text: str | None, today: date
) -> tuple[Verdict, str]:
    """Gate the text of a Trivy JSON report: the Verdict and its human summary.

    For runners that ran Trivy themselves (the Dagger module): ReportUnreadable if the
    text is no Trivy report, ConfigError if the ignore file's text is malformed.
    """
    report = parse_report(text, file=REPORT)
    rules = parse_ignore_file(ignore_file_text) if ignore_file_text is not None else ()
    verdict = evaluate(report, config, today=today, ignore_file_entries=rules)
    return verdict, render_summary(verdict)


def lint_warnings(report: Report) -> list[str]:
    """One line per failed configuration check: warnings, never a block."""
    return [
        f"config lint: {result.target}: {check.id} {check.severity}: "
        f"{check.title or check.message or ''}".rstrip(": ")
        for result in report.results
        for check in result.misconfigurations
        if (check.status or "FAIL") == "FAIL"
    ]


def failure_kind(result: Result) -> Literal["unavailable", "error"]:
    """Whether a failed Trivy run means "the scanner or its database is missing" or "broken"."""
    text = f"{result.stderr}\n{result.stdout}"
    if result.returncode == 127 or any(sign in text for sign in _UNAVAILABLE_SIGNS):
        return "unavailable"
    return "error"


def last_line(result: Result) -> str:
    """The line of a failed command's output that says what went wrong (Trivy's FATAL)."""
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    # docker ends its errors with a usage hint ("Run 'docker run --help' ..."): skip it.
    lines = [line for line in lines if line and not line.startswith(("Run '", "See '"))]
    fatal = [line for line in lines if "FATAL" in line]
    text = (fatal or lines or [f"exit code {result.returncode}"])[-1]
    # `2026-11-27T05:11:11Z\tFATAL\tFatal error\trun error: ...`: keep what went wrong.
    text = text.split("\t")[-1].strip() or text
    return text if len(text) <= 300 else text[:297] + "..."


def run_scan_stage(
    config: PipelineConfig,
    image: str,
    out_dir: Path,
    *,
    trivy: TrivyRunner | None = None,
    progress: Progress | None = None,
    progress_stream: TextIO | None = None,
    executor: Executor | None = None,
    ignore_file: Path | None = None,
    root: Path | None = None,
    today: date | None = None,
) -> ScanStageResult:
    """Scan `image` (a local image name or id) and gate it; artifacts go to `out_dir`.

    `trivy` defaults to the pinned container (ContainerTrivy); `progress` (or a new one
    on `progress_stream`, default stderr) gets the per-step lines; `root` is the
    repository root the Dockerfile path is relative to (default: the directory of the
    loaded pipeline.toml, else the working directory).
    """
    scan = config.scan
    trivy = trivy or ContainerTrivy(scan)
    progress = progress or Progress(progress_stream)
    executor = executor or DockerCli()
    today = today or date.today()
    root = root or _default_root(config)
    rules: tuple[IgnoreRule, ...] = load_ignore_file(ignore_file) if ignore_file else ()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (REPORT, SARIF, SBOM, CONFIG_LINT, SUMMARY):
        # A report left by an earlier run must never be read as this run's.
        (out_dir / name).unlink(missing_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="gangway-scan-"))
    try:
        plan = {
            planned.step: planned.command
            for planned in plan_scan_stage(
                config, image, out_dir, trivy=trivy, work_dir=work_dir, root=root
            )
        }
        progress.say(f"scan: {image} with Trivy from {trivy.describe()}")
        run = _StepRunner(executor, progress)
        result = _run(config, image, out_dir, plan, run, rules, today)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    summary = out_dir / SUMMARY
    summary.write_text(_summary_text(result), encoding="utf-8")
    result.hint = _hint(result, summary)
    result.artifacts = [
        out_dir / name
        for name in (REPORT, SARIF, SBOM, CONFIG_LINT, SUMMARY)
        if (out_dir / name).is_file()
    ]
    progress.say(result.message)
    return result


class _StepRunner:
    """Runs one planned command with a progress line, returning its Result."""

    def __init__(self, executor: Executor, progress: Progress) -> None:
        self.executor = executor
        self.progress = progress

    def __call__(self, command: Command) -> Result:
        self.progress.say(f"scan: {command.purpose} ...")
        began = self.progress.elapsed()
        try:
            result = self.executor.run(command, check=False, timeout=STEP_TIMEOUT)
        except CommandFailed as exc:  # not found (127) or timed out (124)
            result = Result(exc.returncode, exc.stdout, exc.stderr)
        took = self.progress.elapsed() - began
        verdict = "ok" if result.ok else f"FAILED (exit {result.returncode})"
        self.progress.say(f"scan: {command.purpose}: {verdict} ({took:.1f}s)")
        return result


def _run(
    config: PipelineConfig,
    image: str,
    out_dir: Path,
    plan: dict[Step, Command],
    run: _StepRunner,
    rules: Sequence[IgnoreRule],
    today: date,
) -> ScanStageResult:
    scan = config.scan
    saved = run(plan["save"])
    if not saved.ok:
        return _ended(scan, "error", f"cannot save image {image}: {last_line(saved)}")

    scanned = run(plan["scan"])
    fallback: str | None = None
    if not scanned.ok and failure_kind(scanned) == "unavailable":
        # No database (or no scanner): secrets need none, and a secret must block even
        # when the vulnerability scan cannot run.
        fallback = _unavailable_reason(scanned, scan)
        scanned = run(plan["secrets"])
    # Artifacts that do not depend on the gate: written whatever it decides.
    sbom = run(plan["sbom"])
    linted = run(plan["lint"])
    warnings = _lint(out_dir / CONFIG_LINT, linted)

    if not scanned.ok:
        if fallback is not None:
            return _ended(scan, "unavailable", fallback, warnings=warnings)
        reason = f"Trivy exited {scanned.returncode} without a report: {last_line(scanned)}"
        return _ended(scan, failure_kind(scanned), reason, warnings=warnings)
    try:
        report = parse_report((out_dir / REPORT).read_bytes(), file=str(out_dir / REPORT))
    except FileNotFoundError:
        return _ended(scan, "error", "Trivy exited 0 but wrote no report", warnings=warnings)
    except ReportUnreadable as exc:
        return _ended(scan, "error", str(exc), warnings=warnings)
    verdict = evaluate(report, scan, today=today, ignore_file_entries=rules)
    # Trivy names the tarball it read; people know the image by its name.
    verdict = verdict.model_copy(update={"artifact": image})

    problems: list[str] = []
    converted = run(plan["sarif"])
    if not converted.ok:
        problems.append(f"SARIF: {last_line(converted)}")
    if not sbom.ok:
        problems.append(f"SBOM: {last_line(sbom)}")
    if problems:
        # The gate's decision stands only with every artifact the stage promises.
        return _ended(
            scan,
            "error",
            f"{headline(verdict)}; but an artifact failed: {'; '.join(problems)}",
            verdict=verdict,
            warnings=warnings,
        )
    if fallback is not None:
        if not verdict.passed:
            return ScanStageResult(
                status="blocked",
                message=f"{headline(verdict)}; vulnerabilities were not scanned: {fallback}",
                blocks=True,
                verdict=verdict,
                lint_warnings=warnings,
            )
        return _ended(
            scan,
            "unavailable",
            f"{fallback} (the secret scan ran and found nothing that blocks)",
            verdict=verdict,
            warnings=warnings,
        )
    status: StageStatus = "passed" if verdict.passed else "blocked"
    return ScanStageResult(
        status=status,
        message=headline(verdict),
        blocks=not verdict.passed,
        verdict=verdict,
        lint_warnings=warnings,
    )


def _unavailable_reason(result: Result, scan: ScanConfig) -> str:
    text = f"{result.stderr}\n{result.stdout}"
    if "DB error" in text or "vulnerability DB" in text:
        hint = (
            "fill the cache volume on a connected machine (see docs/scan.md, offline mode)"
            if scan.offline
            else "no database could be downloaded; on a machine without access set "
            "scan.offline = true with a pre-filled cache"
        )
        return f"Trivy has no vulnerability database ({last_line(result)}); {hint}"
    if "No such image" in text or "Unable to find image" in text:
        hint = (
            "offline mode never pulls: `docker load` the image of scan.trivy_image first"
            if scan.offline
            else "the image of scan.trivy_image could not be pulled"
        )
        return f"Trivy could not run ({last_line(result)}); {hint}"
    return f"Trivy could not run ({last_line(result)})"


def _lint(path: Path, linted: Result) -> list[str]:
    if not linted.ok:
        return [f"config lint did not run: {last_line(linted)}"]
    try:
        return lint_warnings(parse_report(path.read_bytes(), file=str(path)))
    except (OSError, ReportUnreadable) as exc:
        return [f"config lint report unreadable: {exc}"]


def _ended(
    scan: ScanConfig,
    status: Literal["unavailable", "error"],
    reason: str,
    *,
    verdict: Verdict | None = None,
    warnings: list[str] | None = None,
) -> ScanStageResult:
    if status == "error":
        message = f"scan: ERROR — {reason}; the gate cannot decide, the release is blocked"
        blocks = True
    elif scan.required:
        message = (
            f"scan: UNAVAILABLE — {reason}; blocked (scan.required = true: a release is never "
            "let through unscanned)"
        )
        blocks = True
    else:
        message = (
            f"scan: UNAVAILABLE — {reason}; NOT BLOCKING because scan.required = false: "
            "this image was NOT scanned for vulnerabilities"
        )
        blocks = False
    return ScanStageResult(
        status=status,
        message=message,
        blocks=blocks,
        verdict=verdict,
        lint_warnings=warnings or [],
    )


def _summary_text(result: ScanStageResult) -> str:
    verdict = result.verdict
    if verdict is None:
        text = result.message + "\n"
    elif result.message == headline(verdict):
        text = render_summary(verdict)
    else:
        # The verdict alone would not say what is missing (unavailable, error, fallback).
        rendered = render_summary(verdict)
        if result.status == "unavailable":
            # Only the secret scan ran: its "passed" is no pass of the image.
            rendered = "secret scan only: " + rendered.removeprefix("scan: ")
        text = result.message + "\n\n" + rendered
    if result.lint_warnings:
        text += "\n" + "\n".join(result.lint_warnings) + "\n"
    return text


def _hint(result: ScanStageResult, summary: Path) -> str:
    if not result.blocks:
        return ""
    if result.status == "blocked":
        return (
            f"see {summary}: upgrade the package or remove the secret; to accept a finding "
            "on purpose, add the [[scan.ignore]] entry it shows (with a reason and an expiry)"
        )
    if result.status == "unavailable":
        return (
            "give Trivy its database (scan.cache_volume, offline mode: see docs/scan.md) or "
            "set scan.required = false to let unscanned releases through"
        )
    return f"see {summary} and the progress lines above; run with --verbose for more"


def _default_root(config: PipelineConfig) -> Path:
    origin = config.origin
    return Path(origin.file).resolve().parent if origin is not None else Path.cwd()
