"""The one place that starts processes: docker against an engine, and plain local commands.

    Executor          the protocol every caller depends on: run(Command) -> Result
    LocalProcess      a process on this machine (pip-audit, a trivy binary, the test and
                      deploy commands of the local runner, git, the smoke tests)
    DockerCli         a LocalProcess pointed at an engine (DOCKER_HOST)
    RecordingExecutor for unit tests: records every Command, answers from a function

Every executor traces: with GANGWAY_TRACE=1 (read at each run, so a flag may set it
late) each argv is printed to stderr as `+ <shell line>` before it runs, masked with
`gangway.masking`. A command that cannot start raises CommandFailed with exit code
EXIT_NOT_FOUND, one that outlives its timeout CommandFailed with EXIT_TIMED_OUT (and
what it printed so far), whatever `check` says: neither left an exit code to judge.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Protocol, TextIO

from gangway.commands.docker import Command
from gangway.errors import CommandFailed
from gangway.masking import redact

TRACE_VARIABLE: Final = "GANGWAY_TRACE"
#: The shell's codes, so a reader of an error line knows them at a glance.
EXIT_NOT_FOUND: Final = 127
EXIT_TIMED_OUT: Final = 124
DEFAULT_TIMEOUT: Final = 120.0

#: Where a command's output goes as it runs: a log file (written line by line) or a
#: text stream (a terminal); None captures it.
Output = Path | TextIO | None


@dataclass(frozen=True)
class Result:
    """What a command printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Executor(Protocol):
    """Runs commands; `check=True` turns a non-zero exit into CommandFailed.

    With `output`, stdout and stderr are merged, masked, and sent there line by line as
    the command prints them; the Result's stdout then holds that same text.
    """

    def run(
        self,
        command: Command,
        *,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        output: Output = None,
    ) -> Result: ...


def tracing() -> bool:
    """Whether GANGWAY_TRACE=1 asks for every command to be printed."""
    return os.environ.get(TRACE_VARIABLE) == "1"


def trace(command: Command) -> None:
    """Print `+ argv` to stderr when tracing is on (secrets masked, stdin never shown)."""
    if tracing():
        # Masked argument by argument too: shell quoting would hide a secret that holds
        # a quote or a space from the masking of the joined line.
        line = shlex.join(redact(part) for part in command.argv)
        print("+ " + redact(line), file=sys.stderr, flush=True)


def checked(command: Command, result: Result, check: bool) -> Result:
    """`result`, or CommandFailed when `check` and it did not exit 0."""
    if check and not result.ok:
        raise CommandFailed(command.argv, result.returncode, result.stdout, result.stderr)
    return result


class LocalProcess:
    """Runs argv as a process on this machine, from `cwd`, with `environ`.

    `environ` None means this process's environment as it is at each run (so a variable
    set late, such as GANGWAY_TRACE, reaches the child). What the process prints is
    masked before anyone sees it.
    """

    def __init__(self, *, cwd: Path | None = None, environ: Mapping[str, str] | None = None):
        self.cwd = cwd
        self.environ = None if environ is None else dict(environ)

    def env(self) -> dict[str, str]:
        return dict(os.environ if self.environ is None else self.environ)

    def run(
        self,
        command: Command,
        *,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        output: Output = None,
    ) -> Result:
        trace(command)
        stdin = command.secret_stdin
        if stdin is None and command.stdin is not None:
            stdin = command.stdin.encode()
        try:
            if output is None:
                result = self._captured(command, stdin, timeout)
            else:
                result = self._streamed(command, stdin, timeout, output)
        except FileNotFoundError as exc:
            missing = exc.filename or command.argv[0]
            raise CommandFailed(command.argv, EXIT_NOT_FOUND, "", f"{missing}: not found") from exc
        return checked(command, result, check)

    def _captured(self, command: Command, stdin: bytes | None, timeout: float) -> Result:
        try:
            proc = subprocess.run(
                command.argv, input=stdin, capture_output=True, env=self.env(), cwd=self.cwd,
                timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            printed = _text(exc.stdout if isinstance(exc.stdout, bytes) else b"")
            raise _timed_out(command, timeout, printed) from exc
        return Result(proc.returncode, _text(proc.stdout), _text(proc.stderr))

    def _streamed(
        self, command: Command, stdin: bytes | None, timeout: float, output: Path | TextIO
    ) -> Result:
        proc = subprocess.Popen(
            command.argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(), cwd=self.cwd,
        )  # fmt: skip
        lines: list[str] = []
        with _sink(output) as sink:
            pump = threading.Thread(target=_pump, args=(proc.stdout, sink, lines), daemon=True)
            pump.start()
            if stdin is not None and proc.stdin is not None:
                try:
                    proc.stdin.write(stdin)
                    proc.stdin.close()
                except BrokenPipeError:  # it exited without reading its input
                    pass
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                proc.kill()
                proc.wait()
                pump.join()
                raise _timed_out(command, timeout, "".join(lines)) from exc
            pump.join()
        return Result(returncode, "".join(lines), "")


class DockerCli(LocalProcess):
    """Runs the docker CLI (any argv) pointed at `docker_host` ("" = docker's own default).

    `environ` is the environment docker runs with: the secrets named by the config are
    passed through it (`--env NAME`), never on the command line. What docker prints is
    masked before anyone sees it: container logs, inspect output.
    """

    def __init__(self, docker_host: str = "", environ: Mapping[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        super().__init__(environ=env)


class _Sink:
    """Writes masked lines to a text stream, flushing each so a reader follows along."""

    def __init__(self, stream: IO[str], *, close: bool) -> None:
        self.stream = stream
        self.close = close

    def write(self, line: str) -> None:
        self.stream.write(line)
        self.stream.flush()

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.close:
            self.stream.close()


def _sink(output: Path | TextIO) -> _Sink:
    if isinstance(output, Path):
        output.parent.mkdir(parents=True, exist_ok=True)
        return _Sink(output.open("w", encoding="utf-8"), close=True)
    return _Sink(output, close=False)


def _pump(pipe: IO[bytes] | None, sink: _Sink, lines: list[str]) -> None:
    if pipe is None:
        return
    for raw in pipe:
        line = _text(raw)
        lines.append(line)
        sink.write(line)
    pipe.close()


def _timed_out(command: Command, timeout: float, printed: str) -> CommandFailed:
    return CommandFailed(command.argv, EXIT_TIMED_OUT, printed, f"timed out after {timeout:g}s")


def _text(output: bytes) -> str:
    """A process's output as text (newlines as text mode would give them), secrets masked."""
    text = output.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return redact(text)


Responder = Callable[[Command], Result]


@dataclass
class RecordingExecutor:
    """For unit tests: records every command and answers from `respond` (default: ok, empty).

    It traces like the real executors; with `output`, the answer's stdout is written there.
    """

    respond: Responder = field(default=lambda _command: Result(0, "", ""))
    commands: list[Command] = field(default_factory=list)

    def run(
        self,
        command: Command,
        *,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        output: Output = None,
    ) -> Result:
        trace(command)
        self.commands.append(command)
        result = self.respond(command)
        if output is not None:
            with _sink(output) as sink:
                sink.write(result.stdout)
        return checked(command, result, check)

    @property
    def argvs(self) -> list[list[str]]:
        """Every argv run so far, in order: what exact-argv tests compare."""
        return [list(command.argv) for command in self.commands]
