"""The ordered stages, their typed results, and a runner that stops at the first failure.

A stage is a callable returning a `StageResult`. `run_stages` runs them in order,
times each one, prints a progress line as each starts and a one-line verdict as each
ends, and marks every stage after a failed one as skipped, naming the stage that
stopped the road. A `GangwayError` raised by a stage is a failed stage (its message
is the verdict); anything else propagates, since it is a bug rather than a gate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, TextIO

from pydantic import BaseModel, Field

from gangway.errors import GangwayError

StageName = Literal[
    "test",
    "build",
    "scan",
    "publish",
    "deploy-staging",
    "integration-test",
    "deploy-production",
]
STAGES: tuple[StageName, ...] = (
    "test",
    "build",
    "scan",
    "publish",
    "deploy-staging",
    "integration-test",
    "deploy-production",
)
StageStatus = Literal["passed", "failed", "skipped"]


class StageResult(BaseModel):
    """What one stage did: its verdict, how long it took and what it left behind."""

    name: StageName
    status: StageStatus
    message: str = Field(description="One-line verdict.")
    duration_seconds: float = 0.0
    artifacts: list[str] = Field(default_factory=list, description="Files the stage wrote.")
    hint: str = Field(default="", description="What to do next when the stage failed.")


class PipelineReport(BaseModel):
    """The whole road: one result per stage, in order, and the overall outcome."""

    started_at: datetime
    duration_seconds: float
    outcome: Literal["passed", "failed"]
    failed_stage: StageName | None = None
    stages: list[StageResult]


StageFn = Callable[[], StageResult]


def _failed(name: StageName, exc: GangwayError) -> StageResult:
    hint = getattr(exc, "hint", "") or ""
    return StageResult(name=name, status="failed", message=str(exc), hint=str(hint))


def run_stages(
    stages: Sequence[tuple[StageName, StageFn]],
    *,
    out: TextIO,
    clock: Callable[[], float] = time.monotonic,
) -> PipelineReport:
    """Run `stages` in order; the first failed one stops the road."""
    started_at = datetime.now(UTC)
    start = clock()
    results: list[StageResult] = []
    stopped_by: StageName | None = None
    for index, (name, run) in enumerate(stages, start=1):
        if stopped_by is not None:
            results.append(
                StageResult(name=name, status="skipped", message=f"not run: {stopped_by} failed")
            )
            continue
        print(f"==> [{index}/{len(stages)}] {name}", file=out, flush=True)
        began = clock()
        try:
            result = run()
        except GangwayError as exc:
            result = _failed(name, exc)
        result = result.model_copy(update={"duration_seconds": round(clock() - began, 2)})
        results.append(result)
        mark = {"passed": "ok", "failed": "FAILED", "skipped": "skipped"}[result.status]
        print(
            f"<== {name}: {mark} in {result.duration_seconds:.1f}s: {result.message}",
            file=out,
            flush=True,
        )
        if result.status == "failed":
            stopped_by = name
            if result.hint:
                print(f"    next: {result.hint}", file=out, flush=True)
    return PipelineReport(
        started_at=started_at,
        duration_seconds=round(clock() - start, 2),
        outcome="failed" if stopped_by else "passed",
        failed_stage=stopped_by,
        stages=results,
    )


def render_table(report: PipelineReport) -> str:
    """The summary printed at the end: one row per stage with its timing and verdict."""
    width = max(len(stage.name) for stage in report.stages)
    lines = [f"{'stage':<{width}}  {'status':<7}  {'time':>7}  verdict"]
    for stage in report.stages:
        took = f"{stage.duration_seconds:.1f}s" if stage.status != "skipped" else "-"
        message = stage.message if len(stage.message) <= 90 else stage.message[:87] + "..."
        lines.append(f"{stage.name:<{width}}  {stage.status:<7}  {took:>7}  {message}")
    verdict = (
        f"pipeline passed in {report.duration_seconds:.1f}s"
        if report.outcome == "passed"
        else f"pipeline stopped at {report.failed_stage} after {report.duration_seconds:.1f}s"
    )
    lines.append(verdict)
    return "\n".join(lines) + "\n"
