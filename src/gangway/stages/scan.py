"""The scan stage of the local runner: the scan gate on the image this run built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gangway.stages.graph import StageResult

if TYPE_CHECKING:
    from gangway.stages.local import LocalPipeline


def scan_stage(runner: LocalPipeline) -> StageResult:
    """Run the scan stage (Trivy, the gate, the reports) and turn its verdict into a
    stage result: blocked, a scanner error, and "unavailable" with `scan.required`
    fail the stage; "unavailable" without it passes, saying so."""
    from gangway.scan.stage import choose_trivy, run_scan_stage

    # The core picks the runner: the air-gapped profile means the local binary.
    trivy = choose_trivy(runner.config, binary=runner.trivy_binary)
    result = run_scan_stage(
        runner.config,
        runner.image,
        runner.out_dir / "scan",
        trivy=trivy,
        progress_stream=runner.stream,
        executor=runner.runs,
        root=runner.root,
    )
    return StageResult(
        name="scan",
        status="failed" if result.blocks else "passed",
        message=result.message,
        artifacts=[str(path) for path in result.artifacts],
        hint=result.hint if result.blocks else "",
    )
