"""The stage runner: order, the first failure stops the road, verdicts and the table."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

from gangway.errors import DeployFailed
from gangway.stages import STAGES, StageResult, render_table, run_stages
from gangway.stages.graph import StageFn, StageName


def passing(name: StageName, calls: list[str]) -> tuple[StageName, StageFn]:
    def run() -> StageResult:
        calls.append(name)
        return StageResult(name=name, status="passed", message=f"{name} fine")

    return name, run


def ticking() -> Callable[[], float]:
    counter = itertools.count()
    return lambda: float(next(counter))


def test_all_stages_run_in_order_and_pass() -> None:
    calls: list[str] = []
    out = io.StringIO()
    report = run_stages([passing(n, calls) for n in STAGES], out=out, clock=ticking())
    assert calls == list(STAGES)
    assert report.outcome == "passed"
    assert report.failed_stage is None
    assert [s.status for s in report.stages] == ["passed"] * len(STAGES)
    assert all(s.duration_seconds == 1.0 for s in report.stages)
    text = out.getvalue()
    assert "==> [1/7] test" in text
    assert "<== deploy-production: ok in 1.0s: deploy-production fine" in text


def test_a_failed_gate_stops_the_road_and_names_the_stage() -> None:
    calls: list[str] = []

    def scan() -> StageResult:
        calls.append("scan")
        return StageResult(
            name="scan", status="failed", message="2 CRITICAL", hint="upgrade openssl"
        )

    stages: list[tuple[StageName, StageFn]] = [
        passing("test", calls),
        passing("build", calls),
        ("scan", scan),
    ]
    stages += [passing(n, calls) for n in STAGES[3:]]
    out = io.StringIO()
    report = run_stages(stages, out=out)
    assert calls == ["test", "build", "scan"]
    assert report.outcome == "failed"
    assert report.failed_stage == "scan"
    assert [s.status for s in report.stages[3:]] == ["skipped"] * 4
    assert report.stages[3].message == "not run: scan failed"
    assert "next: upgrade openssl" in out.getvalue()
    table = render_table(report)
    assert "pipeline stopped at scan" in table
    assert table.splitlines()[3].split()[:2] == ["scan", "failed"]


def test_a_gangway_error_is_a_failed_stage_with_its_hint() -> None:
    def deploy() -> StageResult:
        raise DeployFailed("ready", "the new color never became ready", hint="read its logs")

    report = run_stages([("deploy-staging", deploy)], out=io.StringIO())
    stage = report.stages[0]
    assert stage.status == "failed"
    assert "never became ready" in stage.message
    assert stage.hint == "read its logs"
