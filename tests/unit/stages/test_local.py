"""The local runner's pure parts: versions, tags, pytest summaries, the stage list."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from gangway.config import PipelineConfig, load_config
from gangway.stages import STAGES
from gangway.stages.local import (
    LocalPipeline,
    _digest_for,
    default_version,
    pytest_counts,
    safe_tag,
)


@pytest.mark.parametrize(
    ("version", "tag"),
    [
        ("1.2.3", "1.2.3"),
        ("v1.0+build.7", "v1.0-build.7"),
        ("feature/login", "feature-login"),
        ("-leading", "leading"),
        ("", "dev"),
        ("x" * 200, "x" * 128),
    ],
)
def test_safe_tag_makes_a_valid_docker_tag(version: str, tag: str) -> None:
    assert safe_tag(version) == tag


def test_default_version_is_the_commit_or_the_commit_stamped_when_dirty() -> None:
    assert default_version("0123456789ab", False, "20261127T050000Z") == "0123456789ab"
    assert (
        default_version("0123456789ab", True, "20261127T050000Z")
        == "0123456789ab-dirty.20261127T050000Z"
    )


def test_pytest_counts_reads_the_summary_line() -> None:
    output = "....F\nFAILED tests/x.py::test_y\n========= 1 failed, 4 passed in 0.12s =========\n"
    assert pytest_counts(output) == "1 failed, 4 passed in 0.12s"
    assert pytest_counts("7 passed in 1.00s\n") == "7 passed in 1.00s"
    assert pytest_counts("no summary here") == ""


def test_digest_is_picked_for_the_registry_pushed_to() -> None:
    digests = '["other:5000/notes@sha256:aa","127.0.0.1:5000/notes@sha256:bb"]'
    assert _digest_for(digests, "127.0.0.1:5000") == "sha256:bb"
    assert _digest_for("[]", "127.0.0.1:5000") == ""
    assert _digest_for("not json", "127.0.0.1:5000") == ""


def runner_for(config: PipelineConfig, path: Path, root: Path, **fields: Any) -> LocalPipeline:
    """A runner of version `abc` in `root`, its run directory `root/run`."""
    fields.setdefault("stream", io.StringIO())
    return LocalPipeline(
        config=config, config_path=path, root=root, version="abc", revision="abc",
        out_dir=root / "run", **fields,
    )  # fmt: skip


def test_stages_come_in_graph_order_up_to_through(minimal_config: Path, tmp_path: Path) -> None:
    runner = runner_for(load_config(minimal_config), minimal_config, tmp_path)
    assert [name for name, _ in runner.stages()] == list(STAGES)
    assert [name for name, _ in runner.stages("scan")] == ["test", "build", "scan"]
    assert runner.image.endswith(":abc")


def test_a_stage_command_that_fails_is_a_failed_stage_with_its_log(
    minimal_config: Path, tmp_path: Path
) -> None:
    stream = io.StringIO()
    config = load_config(
        minimal_config,
        environ={},
        overrides={"stages.test": ["python", "-c", "print('3 failed, 1 passed'); exit(1)"]},
    )
    runner = runner_for(config, minimal_config, tmp_path, stream=stream)
    result = runner.test()
    assert result.status == "failed"
    assert result.message.startswith("tests failed: 3 failed, 1 passed")
    assert (tmp_path / "run" / "test.log").read_text().strip() == "3 failed, 1 passed"
    assert "3 failed, 1 passed" in stream.getvalue()
    assert "run them alone with: python -c" in result.hint


def test_a_stopped_road_is_a_failed_pipeline_event_naming_the_stage(
    minimal_config: Path, tmp_path: Path
) -> None:
    from gangway.notify.payloads import headline
    from gangway.stages import PipelineReport, StageResult
    from gangway.stages.local import stopped_event

    runner = runner_for(
        load_config(minimal_config), minimal_config, tmp_path, environ={"GANGWAY_ACTOR": "ci-bot"}
    )
    report = PipelineReport.model_validate(
        {
            "started_at": "2026-11-27T05:00:00Z",
            "duration_seconds": 12.0,
            "outcome": "failed",
            "failed_stage": "scan",
            "stages": [
                StageResult(name="test", status="passed", message="7 passed"),
                StageResult(name="scan", status="failed", message="blocked: 1 CRITICAL"),
            ],
        }
    )
    event = stopped_event(runner, report, 12.04)
    assert (event.event, event.action, event.step, event.reason) == (
        "failed", "pipeline", "scan", "blocked: 1 CRITICAL"
    )  # fmt: skip
    assert (event.environment, event.actor, event.duration_seconds) == ("staging", "ci-bot", 12.0)
    assert headline(event) == "pipeline of notes abc toward staging stopped at scan"
