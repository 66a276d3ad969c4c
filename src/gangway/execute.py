"""The one place that runs commands: the docker CLI against the environment's engine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from gangway.commands.docker import Command
from gangway.errors import CommandFailed
from gangway.masking import redact


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
    """Runs commands; `check=True` turns a non-zero exit into CommandFailed."""

    def run(self, command: Command, *, check: bool = True, timeout: float = 120) -> Result: ...


class DockerCli:
    """Runs argv with subprocess, pointed at `docker_host` ("" = whatever docker would use).

    `environ` is the environment docker runs with: the secrets named by the config are
    passed through it (`--env NAME`), never on the command line. What docker prints is
    masked (`gangway.masking`) before anyone sees it: container logs, inspect output.
    """

    def __init__(self, docker_host: str = "", environ: Mapping[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        self.env = env

    def run(self, command: Command, *, check: bool = True, timeout: float = 120) -> Result:
        stdin = command.secret_stdin
        if stdin is None and command.stdin is not None:
            stdin = command.stdin.encode()
        try:
            proc = subprocess.run(
                command.argv,
                input=stdin,
                capture_output=True,
                env=self.env,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise CommandFailed(command.argv, 127, "", f"{exc.filename}: not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(command.argv, 124, "", f"timed out after {timeout:g}s") from exc
        result = Result(proc.returncode, _text(proc.stdout), _text(proc.stderr))
        if check and not result.ok:
            raise CommandFailed(command.argv, result.returncode, result.stdout, result.stderr)
        return result


def _text(output: bytes) -> str:
    """Docker's output as text (newlines as text mode would give them), secrets masked."""
    text = output.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return redact(text)


Responder = Callable[[Command], Result]


@dataclass
class RecordingExecutor:
    """For unit tests: records every command and answers from `respond` (default: ok, empty)."""

    respond: Responder = field(default=lambda _command: Result(0, "", ""))
    commands: list[Command] = field(default_factory=list)

    def run(self, command: Command, *, check: bool = True, timeout: float = 120) -> Result:
        self.commands.append(command)
        result = self.respond(command)
        if check and not result.ok:
            raise CommandFailed(command.argv, result.returncode, result.stdout, result.stderr)
        return result
