"""The local runner's pure parts: versions, tags, pytest summaries, the stage list."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gangway.commands.docker import Command
from gangway.config import PipelineConfig, load_config
from gangway.execute import RecordingExecutor, Result
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


# -- what the stages run: exact argv, recorded -------------------------------------------

PY = sys.executable
CLEAN_AUDIT = json.dumps({"dependencies": [{"name": "idna", "version": "3.10", "vulns": []}]})


def answering(command: Command) -> Result:
    """A host where every command works: pytest prints its summary, pip-audit its JSON."""
    argv = command.argv
    if argv[:3] == ("python", "-m", "pytest"):
        return Result(0, "==== 5 passed in 0.10s ====\n", "")
    if "pip_audit" in argv:
        Path(argv[argv.index("--output") + 1]).write_text(CLEAN_AUDIT)
    if argv[:3] == ("docker", "image", "inspect") and "{{.Id}}" in argv:
        return Result(0, "sha256:0123456789abcdef0123\n", "")
    return Result(0, "", "")


@pytest.fixture
def recorded(minimal_config: Path, tmp_path: Path) -> tuple[LocalPipeline, RecordingExecutor]:
    executor = RecordingExecutor(respond=answering)
    runner = runner_for(
        load_config(minimal_config, environ={}), minimal_config, tmp_path, executor=executor
    )
    return runner, executor


def test_the_test_stage_runs_the_tests_then_audits_the_lock(
    recorded: tuple[LocalPipeline, RecordingExecutor], tmp_path: Path
) -> None:
    runner, executor = recorded
    result = runner.test()
    assert result.status == "passed", result.message
    assert executor.argvs == [
        ["python", "-m", "pytest", "-m", "not integration", "-q"],
        [PY, "-m", "pip_audit", "--requirement", str(tmp_path / "app/requirements.txt"),
         "--strict", "--no-deps", "--disable-pip", "--format", "json",
         "--progress-spinner", "off", "--output", str(tmp_path / "run/audit-requirements.json")],
    ]  # fmt: skip
    assert (tmp_path / "run" / "test.log").read_text() == "==== 5 passed in 0.10s ====\n"
    assert result.message.startswith("5 passed in 0.10s; audit: passed")


def test_the_build_stage_builds_tags_latest_and_reads_the_id(
    recorded: tuple[LocalPipeline, RecordingExecutor], tmp_path: Path
) -> None:
    runner, executor = recorded
    assert runner.build().status == "passed"
    image = "127.0.0.1:5000/notes:abc"
    assert executor.argvs == [
        ["docker", "build", "--file", str(tmp_path / "docker/Dockerfile"), "--tag", image,
         "--build-arg", "BASE_IMAGE=python:3.12-slim",
         "--build-arg", "BUILDER_IMAGE=python:3.12",
         "--build-arg", "PIP_NO_INDEX=0",
         "--build-arg", "VERSION=abc", "--build-arg", "REVISION=abc", str(tmp_path / ".")],
        ["docker", "tag", image, "127.0.0.1:5000/notes:latest"],
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
    ]  # fmt: skip


def test_the_publish_stage_logs_in_with_the_password_on_stdin_then_pushes(
    minimal_config: Path, tmp_path: Path
) -> None:
    config = load_config(
        minimal_config,
        environ={},
        overrides={"registry.username": "ci", "registry.password": "registry-s3cret"},
    )
    executor = RecordingExecutor(respond=answering)
    runner = runner_for(config, minimal_config, tmp_path, executor=executor)
    assert runner.publish().status == "passed"
    assert executor.argvs == [
        ["docker", "login", "--username", "ci", "--password-stdin", "127.0.0.1:5000"],
        ["docker", "push", "127.0.0.1:5000/notes:abc"],
        ["docker", "tag", "127.0.0.1:5000/notes:abc", "127.0.0.1:5000/notes:latest"],
        ["docker", "push", "127.0.0.1:5000/notes:latest"],
        ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}",
         "127.0.0.1:5000/notes:abc"],
    ]  # fmt: skip
    assert executor.commands[0].stdin == "registry-s3cret"


def test_a_failed_login_stops_the_publish_stage_before_any_push(
    minimal_config: Path, tmp_path: Path
) -> None:
    config = load_config(
        minimal_config,
        environ={},
        overrides={"registry.username": "ci", "registry.password": "registry-s3cret"},
    )
    executor = RecordingExecutor(respond=lambda _c: Result(1, "", "unauthorized"))
    result = runner_for(config, minimal_config, tmp_path, executor=executor).publish()
    assert result.status == "failed"
    assert result.message == "docker login to 127.0.0.1:5000 failed"
    assert len(executor.commands) == 1


def test_the_deploys_run_gangway_with_this_python_and_smoke_only_production(
    recorded: tuple[LocalPipeline, RecordingExecutor], minimal_config: Path
) -> None:
    runner, executor = recorded
    assert runner.deploy("staging").name == "deploy-staging"
    assert runner.deploy("production").name == "deploy-production"
    head = [PY, "-m", "gangway", "--config", str(minimal_config), "deploy", "--env"]
    assert executor.argvs == [
        [*head, "staging", "--image", "127.0.0.1:5000/notes:abc", "--version", "abc"],
        [*head, "production", "--image", "127.0.0.1:5000/notes:abc", "--smoke",
         "python -m pytest tests/deployed -q -m smoke --base-url '{url}'", "--version", "abc"],
    ]  # fmt: skip


def test_the_integration_test_stage_runs_the_suite_against_staging(
    recorded: tuple[LocalPipeline, RecordingExecutor],
) -> None:
    runner, executor = recorded
    assert runner.integration_test().status == "passed"
    assert executor.argvs == [
        ["python", "-m", "pytest", "tests/deployed", "-q", "--base-url", "http://127.0.0.1:8080"]
    ]


def test_the_scan_stage_runs_the_chosen_trivy_through_the_runners_executor(
    recorded: tuple[LocalPipeline, RecordingExecutor], tmp_path: Path
) -> None:
    from gangway.stages.scan import scan_stage

    runner, executor = recorded
    runner.scan_stage = scan_stage
    runner.trivy_binary = "/opt/trivy"
    result = runner.scan()
    # Every command answered "ok" but wrote no report: an error, never a pass.
    assert (result.status, result.message) == (
        "failed", "scan: ERROR — Trivy exited 0 but wrote no report; the gate cannot decide, "
        "the release is blocked",
    )  # fmt: skip
    tar = executor.argvs[0][3]
    assert tar.endswith("/image.tar")
    out = tmp_path / "run" / "scan"
    cache = str(Path.home() / ".cache" / "trivy")
    assert executor.argvs == [
        ["docker", "save", "--output", tar, "127.0.0.1:5000/notes:abc"],
        ["/opt/trivy", "image", "--input", tar, "--scanners", "vuln,secret", "--format", "json",
         "--output", str(out / "report.json"), "--cache-dir", cache, "--quiet"],
        ["/opt/trivy", "image", "--input", tar, "--format", "cyclonedx",
         "--output", str(out / "sbom.cdx.json"), "--cache-dir", cache, "--quiet"],
        ["/opt/trivy", "config", "--skip-check-update", "--format", "json",
         "--output", str(out / "config-lint.json"), "--cache-dir", cache, "--quiet",
         str(tmp_path / "docker/Dockerfile")],
    ]  # fmt: skip


def test_a_test_command_that_is_not_installed_is_a_failed_stage(
    minimal_config: Path, tmp_path: Path
) -> None:
    config = load_config(
        minimal_config, environ={}, overrides={"stages.test": ["gangway-no-such-runner"]}
    )
    result = runner_for(config, minimal_config, tmp_path).test()
    assert result.status == "failed"
    assert result.message.startswith("tests failed: exit 127")
    assert (tmp_path / "run" / "test.log").exists() is False
