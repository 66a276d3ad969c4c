"""The scan stage's decisions, Trivy faked by a recording executor (real Trivy: integration)."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from gangway.commands.docker import Command
from gangway.config import PipelineConfig, ScanConfig, load_config
from gangway.errors import ConfigError, ReportUnreadable
from gangway.execute import RecordingExecutor, Result
from gangway.progress import Progress
from gangway.scan.stage import (
    LocalTrivy,
    ScanStageResult,
    failure_kind,
    judge_report_text,
    last_line,
    plan_scan_stage,
    run_scan_stage,
)

from ..conftest import WriteConfig
from .conftest import REPORTS, TODAY

NO_DB = (
    "2026-11-27T05:11:11Z\tFATAL\tFatal error\trun error: init error: DB error: database "
    "error: --skip-db-update cannot be specified on the first run\n"
)
BAD_FLAG = "2026-11-27T05:11:11Z\tFATAL\tFatal error\tunknown flag: --frobnicate\n"
ARTIFACTS = ["report.json", "report.sarif", "sbom.cdx.json", "config-lint.json", "summary.txt"]


def step_of(command: Command) -> str:
    argv = command.argv
    if argv[:2] == ("docker", "save"):
        return "save"
    if argv[1] == "convert":
        return "sarif"
    if argv[1] == "config":
        return "lint"
    if "cyclonedx" in argv:
        return "sbom"
    return "secrets" if argv[argv.index("--scanners") + 1] == "secret" else "scan"


def output_of(command: Command) -> Path:
    return Path(command.argv[command.argv.index("--output") + 1])


class FakeTrivy:
    """Answers each step: a report file to write and an exit code, or a failure's stderr."""

    def __init__(self, **answers: str | tuple[int, str]) -> None:
        self.answers = {
            "save": (0, ""),
            "sarif": "sarif",
            "sbom": "sbom",
            "lint": "config-lint.json",
            "secrets": "clean.json",
            **answers,
        }
        self.steps: list[str] = []

    def __call__(self, command: Command) -> Result:
        step = step_of(command)
        self.steps.append(step)
        answer = self.answers[step]
        if isinstance(answer, tuple):
            return Result(answer[0], "", answer[1])
        if step != "save":
            target = output_of(command)
            if answer in ("sarif", "sbom"):
                target.write_text('{"fake": "' + answer + '"}\n')
            else:
                shutil.copy(REPORTS / answer, target)
        return Result(0, "", "")


@pytest.fixture
def config(write_config: WriteConfig, minimal_toml: str) -> Callable[..., PipelineConfig]:
    def make(**scan: object) -> PipelineConfig:
        body = "\n".join(f"{key} = {str(value).lower()}" for key, value in scan.items())
        return load_config(write_config(f"{minimal_toml}\n[scan]\n{body}\n"), environ={})

    return make


def stage(
    config: PipelineConfig, out: Path, fake: FakeTrivy, *, ignore_file: Path | None = None
) -> ScanStageResult:
    return run_scan_stage(
        config,
        "notes:1.4.3",
        out,
        trivy=LocalTrivy("trivy", "/cache"),
        executor=RecordingExecutor(respond=fake),
        progress=Progress(quiet=True),
        ignore_file=ignore_file,
        today=TODAY,
    )


def test_critical_with_a_fix_blocks_and_every_artifact_is_written(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    fake = FakeTrivy(scan="critical-with-fix.json")

    result = stage(config(), tmp_path / "out", fake)

    assert (result.status, result.blocks) == ("blocked", True)
    assert result.message == "scan: BLOCKED — 2 findings block (1 CRITICAL, 1 HIGH)"
    assert [path.name for path in result.artifacts] == ARTIFACTS
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert summary.startswith(result.message + "\ncounts: ")
    assert "artifact: notes:1.4.3\n" in summary
    assert "config lint: Dockerfile: DS-0002 HIGH: Image user should not be 'root'" in summary
    assert "DS-0026" not in summary  # a passed check is no warning
    assert fake.steps == ["save", "scan", "sbom", "lint", "sarif"]
    assert result.hint.startswith(f"see {tmp_path / 'out' / 'summary.txt'}: upgrade the package")


def test_clean_report_passes(config: Callable[..., PipelineConfig], tmp_path: Path) -> None:
    result = stage(config(), tmp_path, FakeTrivy(scan="clean.json"))

    assert (result.status, result.blocks) == ("passed", False)
    assert result.message.startswith("scan: passed — 0 blocking")
    assert result.hint == ""


def test_unfixed_only_passes_when_ignore_unfixed(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    assert stage(config(), tmp_path, FakeTrivy(scan="unfixed-only.json")).status == "passed"
    blocked = stage(config(ignore_unfixed=False), tmp_path, FakeTrivy(scan="unfixed-only.json"))
    assert blocked.status == "blocked"


def test_no_database_falls_back_to_secrets_and_a_secret_still_blocks(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    fake = FakeTrivy(scan=(1, NO_DB), secrets="secret.json")

    result = stage(config(offline=True, required=False), tmp_path, fake)

    assert (result.status, result.blocks) == ("blocked", True)
    assert "secret" in result.message
    assert "vulnerabilities were not scanned: Trivy has no vulnerability database" in result.message
    assert fake.steps == ["save", "scan", "secrets", "sbom", "lint", "sarif"]


@pytest.mark.parametrize(("required", "blocks"), [(True, True), (False, False)])
def test_no_database_is_unavailable_and_required_decides(
    config: Callable[..., PipelineConfig], tmp_path: Path, required: bool, blocks: bool
) -> None:
    result = stage(config(offline=True, required=required), tmp_path, FakeTrivy(scan=(1, NO_DB)))

    assert (result.status, result.blocks) == ("unavailable", blocks)
    assert result.message.startswith("scan: UNAVAILABLE — Trivy has no vulnerability database")
    assert ("NOT BLOCKING" in result.message) is not blocks
    summary = (tmp_path / "summary.txt").read_text()
    assert summary.startswith(result.message + "\n\nsecret scan only: passed — 0 blocking")
    assert "\nscan: passed" not in summary


def test_fatal_trivy_error_is_an_error_never_a_pass_and_leaves_no_report(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    # A report of an earlier run must not be taken for this run's.
    shutil.copy(REPORTS / "clean.json", tmp_path / "report.json")
    fake = FakeTrivy(scan=(1, BAD_FLAG))

    result = stage(config(required=False), tmp_path, fake)

    assert (result.status, result.blocks) == ("error", True)
    assert result.message == (
        "scan: ERROR — Trivy exited 1 without a report: unknown flag: --frobnicate; the gate "
        "cannot decide, the release is blocked"
    )
    assert not (tmp_path / "report.json").exists()
    assert "secrets" not in fake.steps


@pytest.mark.parametrize("report", ["malformed-not-json.json", "malformed-no-severity.json"])
def test_malformed_report_is_an_error(
    config: Callable[..., PipelineConfig], tmp_path: Path, report: str
) -> None:
    result = stage(config(), tmp_path, FakeTrivy(scan=report))

    assert (result.status, result.blocks) == ("error", True)
    assert str(tmp_path / "report.json") in result.message


def test_image_that_cannot_be_saved_is_an_error(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    fake = FakeTrivy(save=(1, "Error response from daemon: reference does not exist\n"))

    result = stage(config(), tmp_path, fake)

    assert (result.status, result.blocks) == ("error", True)
    assert "cannot save image notes:1.4.3: Error response from daemon" in result.message
    assert fake.steps == ["save"]


def test_failed_sbom_turns_a_pass_into_an_error(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    result = stage(config(), tmp_path, FakeTrivy(scan="clean.json", sbom=(2, "disk full")))

    assert (result.status, result.blocks) == ("error", True)
    assert "an artifact failed: SBOM: disk full" in result.message


def test_ignore_file_applies_to_the_stage(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    ignore = tmp_path / ".trivyignore.yaml"
    ignore.write_text(
        "secrets:\n  - id: github-pat\n    statement: test fixture key\n"
        "    expired_at: 2026-12-31\n"
    )

    result = stage(config(), tmp_path / "out", FakeTrivy(scan="secret.json"), ignore_file=ignore)

    assert result.status == "passed", result.message


def test_malformed_ignore_file_stops_before_anything_runs(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    ignore = tmp_path / ".trivyignore.yaml"
    ignore.write_text("secrets:\n  - id: x\n    statement: y\n    expired_at: 2026-13-01\n")
    fake = FakeTrivy()

    with pytest.raises(ConfigError, match="expired_at: expected a date"):
        stage(config(), tmp_path / "out", fake, ignore_file=ignore)
    assert fake.steps == []


def test_plan_runs_trivy_on_absolute_paths(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    plan = plan_scan_stage(
        config(offline=True),
        "notes:1",
        tmp_path / "out",
        trivy=LocalTrivy("/usr/bin/trivy", "/cache"),
        work_dir=tmp_path / "work",
        root=tmp_path,
    )

    steps = {planned.step: list(planned.command.argv) for planned in plan}
    assert list(steps) == ["save", "scan", "secrets", "sarif", "sbom", "lint"]
    assert steps["save"] == ["docker", "save", "--output", f"{tmp_path}/work/image.tar", "notes:1"]
    assert steps["scan"][:5] == [
        "/usr/bin/trivy", "image", "--input", f"{tmp_path}/work/image.tar", "--scanners",
    ]  # fmt: skip
    assert steps["lint"][-1] == f"{tmp_path}/docker/Dockerfile"


def test_judge_report_text_gates_with_the_ignore_file_text() -> None:
    text = (REPORTS / "secret.json").read_text()

    blocked, summary = judge_report_text(
        ScanConfig(), text, ignore_file_text=None, today=date(2026, 6, 1)
    )
    accepted, _ = judge_report_text(
        ScanConfig(),
        text,
        ignore_file_text=(
            "secrets:\n  - id: github-pat\n    statement: fixture\n    expired_at: 2026-05-31\n"
        ),
        today=date(2026, 6, 1),
    )

    assert not blocked.passed
    assert summary.startswith("scan: BLOCKED")
    assert not accepted.passed  # expired the day before: blocks again
    assert accepted.expired_ignores[0].id == "github-pat"
    with pytest.raises(ReportUnreadable):
        judge_report_text(ScanConfig(), "", ignore_file_text=None, today=date(2026, 6, 1))


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        (Result(1, "", NO_DB), "unavailable"),
        (Result(1, "", "FATAL\tfailed to download vulnerability DB: dial tcp"), "unavailable"),
        (
            Result(125, "", "Unable to find image 'aquasec/trivy:0.74.0@sha256:…' locally"),
            "unavailable",
        ),
        (Result(127, "", "trivy: not found"), "unavailable"),
        (Result(1, "", BAD_FLAG), "error"),
        (Result(2, "", "yaml: line 3: did not find expected key"), "error"),
    ],
)
def test_failure_kind(result: Result, kind: str) -> None:
    assert failure_kind(result) == kind


def test_last_line_keeps_what_went_wrong() -> None:
    assert last_line(Result(1, "", "INFO\tstarting\n" + BAD_FLAG)) == "unknown flag: --frobnicate"
    assert last_line(Result(3, "", "")) == "exit code 3"
    docker_error = (
        "Unable to find image 'aquasec/trivy:0.74.0' locally\n"
        "docker: Error response from daemon: No such image: aquasec/trivy:0.74.0\n"
        "Run 'docker run --help' for more information\n"
    )
    assert last_line(Result(125, "", docker_error)) == (
        "docker: Error response from daemon: No such image: aquasec/trivy:0.74.0"
    )


def test_progress_lines_have_timings_and_end_with_the_verdict(
    config: Callable[..., PipelineConfig], tmp_path: Path
) -> None:
    stream = io.StringIO()

    result = run_scan_stage(
        config(),
        "notes:1.4.3",
        tmp_path,
        trivy=LocalTrivy("trivy", "/cache"),
        executor=RecordingExecutor(respond=FakeTrivy(scan="clean.json")),
        progress_stream=stream,
        today=TODAY,
    )

    lines = stream.getvalue().splitlines()
    assert re.fullmatch(
        r"\[ *\d+\.\ds\] scan: save notes:1.4.3 as a tarball: ok \(\d+\.\ds\)", lines[2]
    )
    assert lines[-1].endswith(result.message)
