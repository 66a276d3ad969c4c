"""The errors gangway raises on purpose, each with the exit code the CLI returns for it.

    Exception
     └── GangwayError            base of every expected failure (exit 1)
          ├── ConfigError        pipeline.toml or its overrides are invalid (exit 2);
          │                      carries every ConfigProblem found, one per line
          ├── ReportUnreadable   a scan report is missing, not JSON or not Trivy's (exit 2)
          ├── PendingUnreadable  the app's `migrations.pending` command printed no usable
          │                      JSON (the deployer turns it into a DeployFailed)
          ├── CommandFailed      a docker command exited non-zero: argv, code, output
          ├── DeployFailed       a deploy or rollback stopped at a step; live traffic
          │    │                 was left on (or put back on) a proven release (exit 1)
          │    └── HealthCheckFailed  the new color never became healthy or ready
          └── LockHeld           another deploy holds the environment (exit 3)

Anything that is not a GangwayError is a bug: the CLI reports it as unexpected and
exits 70.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

SourceKind = Literal["file", "env", "secret", "airgapped", "override"]

#: Where a deploy, a rollback or a database command can stop: a closed set, so other
#: modules (notifications, history, the watch) match on a name that cannot drift.
FailedStep = Literal[
    "lock", "bootstrap", "database", "image", "migrate", "guard", "backup", "restore",
    "start", "health", "ready", "smoke", "switch", "watch", "retire", "history",
    "deploy", "rollback", "secrets", "maintenance", "interrupted",
]  # fmt: skip
FAILED_STEPS: tuple[str, ...] = FailedStep.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ValueSource:
    """Where a configuration value came from: the file, or the layer that overrode it."""

    kind: SourceKind
    name: str = ""

    def describe(self) -> str:
        """Say where the value came from, for error messages and `gangway config`."""
        if self.kind == "env":
            return self.name
        if self.kind == "secret":
            return f"secret file {self.name}"
        if self.kind == "airgapped":
            return "the air-gapped profile (GANGWAY_AIRGAPPED)"
        if self.kind == "override":
            return self.name or "a command-line override"
        return self.name or "the file"


FILE_SOURCE = ValueSource("file")


class _Missing:
    """The value of a problem that has none to show (a missing key, a TOML syntax error)."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _Missing()


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, located as precisely as it can be."""

    message: str
    file: str | None = None
    key: str | None = None
    value: object = NO_VALUE
    source: ValueSource = FILE_SOURCE
    secret: bool = False
    line: int | None = None
    column: int | None = None

    def render(self) -> str:
        """`file: dotted.key: message (got 'value', from GANGWAY_VAR)` with the parts it has."""
        where = self.file or ""
        if where and self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        parts = [part for part in (where, self.key) if part]
        details: list[str] = []
        if self.value is not NO_VALUE:
            details.append(f"got {'[REDACTED]' if self.secret else _show(self.value)}")
        if self.source.kind != "file":
            details.append(f"from {self.source.describe()}")
        text = self.message + (f" ({', '.join(details)})" if details else "")
        return ": ".join([*parts, text])


def _show(value: object, limit: int = 80) -> str:
    text = _brief(value, depth=0)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _brief(value: object, depth: int) -> str:
    """A short repr that never fails: huge ints, deep nesting and long lists are cut."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 200:
        # repr() of an int of more than 4300 digits raises ValueError.
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    if isinstance(value, str):
        return repr(value[:100])
    if isinstance(value, dict):
        if depth >= 3:
            return "{...}"
        pairs = [f"{_brief(k, depth + 1)}: {_brief(v, depth + 1)}" for k, v in value.items()]
        return "{" + ", ".join(pairs[:5]) + (", ..." if len(pairs) > 5 else "") + "}"
    if isinstance(value, list | tuple):
        if depth >= 3:
            return "[...]"
        items = [_brief(item, depth + 1) for item in list(value)[:5]]
        return "[" + ", ".join(items) + (", ..." if len(value) > 5 else "") + "]"
    return repr(value)


class GangwayError(Exception):
    """Base of every failure gangway expects and explains; never shown with a traceback."""

    exit_code: ClassVar[int] = 1

    def lines(self) -> list[str]:
        """The message as the lines the CLI prints after `error: `."""
        return str(self).splitlines() or [type(self).__name__]


class ConfigError(GangwayError):
    """The configuration is invalid; every problem found is reported at once."""

    exit_code: ClassVar[int] = 2

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: Sequence[ConfigProblem] = tuple(problems)
        super().__init__("\n".join(problem.render() for problem in self.problems))


class CommandFailed(GangwayError):
    """A command gangway ran exited non-zero; shows the command, its code and output."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        lines = [line.strip() for line in (stderr.strip() or stdout.strip()).splitlines()]
        # docker ends its errors with a usage hint ("Run 'docker run --help' ..."): show
        # the line that says what went wrong instead.
        detail = [line for line in lines if line and not line.startswith(("Run '", "See '"))]
        tail = f": {detail[-1]}" if detail else ""
        super().__init__(f"`{' '.join(self.argv)}` exited {returncode}{tail}")


class DeployFailed(GangwayError):
    """A deploy or rollback stopped at `step`; `hint` says what to do next."""

    def __init__(self, step: FailedStep, reason: str, *, hint: str = "", logs: str = "") -> None:
        self.step: FailedStep = step
        self.reason = reason
        self.hint = hint
        self.logs = logs
        message = f"{step}: {reason}"
        if hint:
            message += f"\n{hint}"
        super().__init__(message)


class HealthCheckFailed(DeployFailed):
    """The new color did not become healthy (Docker) or ready (HTTP) in time."""


class LockHeld(GangwayError):
    """Another deploy holds the environment's lock."""

    exit_code: ClassVar[int] = 3

    def __init__(self, environment: str, holder: str, since: str) -> None:
        self.environment = environment
        self.holder = holder
        self.since = since
        super().__init__(
            f"{environment} is locked by {holder} since {since}; wait for it "
            f"(--lock-wait 5m), or if that deploy is dead: gangway lock release --env {environment}"
        )


class ReportUnreadable(GangwayError):
    """A scan report cannot be used: missing, not JSON, not a Trivy report, or invalid.

    Exit 2, like a bad config: the gate has nothing trustworthy to decide on, and a
    report it cannot read is never a pass.
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, file: str, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


class PendingUnreadable(GangwayError):
    """The app's `migrations.pending` command printed something other than the expected JSON."""


class NumberRefused(ValueError):
    """A JSON number a report could never need (thousands of digits, inf), refused while
    parsing; the report loader turns it into ReportUnreadable with its position."""

    def __init__(self, text: str, why: str) -> None:
        super().__init__(why)
        self.text = text
        self.why = why
