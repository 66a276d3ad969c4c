"""The executors: real local processes (captured, streamed, timed out, missing) and tracing."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from gangway import masking
from gangway.commands.docker import Command
from gangway.errors import CommandFailed
from gangway.execute import (
    EXIT_NOT_FOUND,
    EXIT_TIMED_OUT,
    DockerCli,
    Executor,
    LocalProcess,
    RecordingExecutor,
    Result,
)

PY = sys.executable


def python(code: str, purpose: str = "run python", *, stdin: str | None = None) -> Command:
    return Command((PY, "-c", code), purpose, stdin=stdin)


EXECUTORS: list[type[Executor]] = [LocalProcess, DockerCli, RecordingExecutor]


@pytest.mark.parametrize("make", EXECUTORS)
def test_trace_prints_each_argv_before_it_runs_when_asked(
    make: type[Executor], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = make()
    executor.run(python("print('hi')"))
    assert capsys.readouterr().err == ""
    # Read at each run: a flag that sets the variable after the executor exists counts.
    monkeypatch.setenv("GANGWAY_TRACE", "1")
    executor.run(python("print('hi there')"))
    assert capsys.readouterr().err == f"+ {PY} -c 'print('\"'\"'hi there'\"'\"')'\n"


def test_trace_is_off_for_any_other_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GANGWAY_TRACE", "0")
    RecordingExecutor().run(Command(("docker", "ps"), "list"))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("make", EXECUTORS)
def test_trace_masks_registered_secrets_and_never_shows_stdin(
    make: type[Executor], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    masking.register("hunter2-very-secret", "it's a secret")
    monkeypatch.setenv("GANGWAY_TRACE", "1")
    make().run(
        python("import sys; sys.stdin.read()", "read", stdin="stdin-password-value"),
        check=False,
    )
    make().run(Command((PY, "-c", "pass", "--token=hunter2-very-secret"), "takes a token"))
    make().run(Command((PY, "-c", "pass", "it's a secret"), "takes a quoted secret"))
    err = capsys.readouterr().err
    assert "hunter2-very-secret" not in err
    assert "stdin-password-value" not in err
    assert f"+ {PY} -c pass '--token=[REDACTED]'\n" in err
    assert "it's" not in err
    assert "secret'" not in err


def test_captured_output_is_masked_and_returned() -> None:
    masking.register("s3cr3t-value")
    result = LocalProcess().run(
        python("import sys; print('out s3cr3t-value'); print('err', file=sys.stderr)")
    )
    assert result == Result(0, "out [REDACTED]\n", "err\n")


def test_a_failed_command_raises_only_when_checked() -> None:
    failing = python("import sys; print('broken', file=sys.stderr); sys.exit(3)")
    assert LocalProcess().run(failing, check=False).returncode == 3
    with pytest.raises(CommandFailed) as caught:
        LocalProcess().run(failing)
    assert (caught.value.returncode, caught.value.stderr) == (3, "broken\n")


def test_runs_in_cwd_with_the_given_environment(tmp_path: Path) -> None:
    executor = LocalProcess(cwd=tmp_path, environ={"ONLY": "this"})
    code = "import os; print(os.getcwd()); print(sorted(k for k in os.environ if k == 'ONLY'))"
    result = executor.run(python(code))
    assert result.stdout.splitlines() == [str(tmp_path), "['ONLY']"]


def test_docker_cli_points_docker_at_its_host() -> None:
    code = "import os; print(os.environ['DOCKER_HOST'])"
    assert DockerCli("ssh://deploy@app1").run(python(code)).stdout == "ssh://deploy@app1\n"


def test_output_to_a_log_file_is_written_as_it_runs_and_returned(tmp_path: Path) -> None:
    masking.register("p4ssword-long")
    log = tmp_path / "logs" / "test.log"
    code = "import sys; print('one'); print('p4ssword-long', file=sys.stderr); print('three')"
    result = LocalProcess().run(python(code), output=log)
    assert result.stdout == "one\n[REDACTED]\nthree\n"
    assert log.read_text() == result.stdout


def test_output_to_a_stream_is_forwarded_line_by_line_with_stdin_fed() -> None:
    stream = io.StringIO()
    command = python("import sys; print(sys.stdin.read().upper())", stdin="fed on stdin")
    result = LocalProcess().run(command, output=stream)
    assert stream.getvalue() == "FED ON STDIN\n" == result.stdout


@pytest.mark.parametrize("streamed", [False, True])
def test_a_missing_program_is_command_failed_not_found(streamed: bool, tmp_path: Path) -> None:
    command = Command(("gangway-no-such-program", "--x"), "nothing")
    with pytest.raises(CommandFailed) as caught:
        LocalProcess().run(command, check=False, output=tmp_path / "x.log" if streamed else None)
    assert caught.value.returncode == EXIT_NOT_FOUND
    assert caught.value.stderr == "gangway-no-such-program: not found"


@pytest.mark.parametrize("streamed", [False, True])
def test_a_timeout_is_command_failed_with_what_was_printed(streamed: bool) -> None:
    code = "import sys, time; print('started', flush=True); time.sleep(30)"
    with pytest.raises(CommandFailed) as caught:
        LocalProcess().run(
            python(code), check=False, timeout=1.5, output=io.StringIO() if streamed else None
        )
    assert caught.value.returncode == EXIT_TIMED_OUT
    assert caught.value.stdout == "started\n"
    assert caught.value.stderr == "timed out after 1.5s"


def test_the_deployers_smoke_run_fits_the_api() -> None:
    """argv, a timeout, the captured output, and a clear failure for each way it fails."""
    smoke = ["python", "-c", "print('2 passed')"]
    result = LocalProcess().run(Command(tuple(smoke), "smoke tests"), check=False, timeout=60)
    assert (result.ok, result.stdout) == (True, "2 passed\n")


def test_the_recording_executor_records_argv_and_writes_its_answer_to_output() -> None:
    stream = io.StringIO()
    executor = RecordingExecutor(respond=lambda command: Result(0, "built\n", ""))
    executor.run(Command(("docker", "build", "."), "build"), output=stream)
    assert executor.argvs == [["docker", "build", "."]]
    assert stream.getvalue() == "built\n"
