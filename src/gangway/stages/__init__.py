"""The pipeline's stage graph, shared by both runners (Dagger and the local Docker one).

test -> build -> scan -> publish -> deploy-staging -> integration-test -> deploy-production

`graph` holds the order, the typed results and the runner that stops at the first
failed gate; `argv` holds the pure command lines each stage runs, so the Dagger
functions and the local runner run the very same commands.
"""

from gangway.stages.graph import (
    STAGES,
    PipelineReport,
    StageName,
    StageResult,
    StageStatus,
    render_table,
    run_stages,
)

__all__ = [
    "STAGES",
    "PipelineReport",
    "StageName",
    "StageResult",
    "StageStatus",
    "render_table",
    "run_stages",
]
