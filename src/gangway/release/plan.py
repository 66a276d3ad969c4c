"""A deploy, a rollback or a maintenance switch as data: the steps the deployer runs.

A `Plan` is what `gangway plan` prints and exactly what the deployer interprets
(`gangway.release.interpret`). Every step is one of:

    Run    one command (argv), with the step that undoes it if a later step fails
    Wait   a condition polled until it holds or a deadline passes: what it polls
           (a docker command, a URL, a local command), how often, for how long, and
           the thresholds that decide it
    Check  commands whose answer decides what follows (the pending migrations), with
           the steps that run when it says so
    Record the release's line in the host's history, filled in when the plan ends

and each step carries its phase. What a failure does depends on the phase: before the
switch (prepare, prove, switch) the completed steps are undone — the live color never
changed —; in the watch, traffic goes back; in retire, a warning. The history record
(`Plan.finish`) is written whatever the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gangway.commands.docker import Color, Command
from gangway.errors import FailedStep

Phase = Literal["prepare", "prove", "switch", "watch", "retire"]
PHASES: tuple[Phase, ...] = ("prepare", "prove", "switch", "watch", "retire")
#: Failures in these phases back out: nothing live has changed yet.
BEFORE_THE_SWITCH: frozenset[Phase] = frozenset({"prepare", "prove", "switch"})

WaitKind = Literal["healthy", "live", "ready", "smoke", "watch", "drained", "database"]
CheckKind = Literal["pending_migrations", "destructive_guard"]
# What an undo restores; of several completed steps with the same key only the latest
# one's undo runs (the routes are put back once, to what they were before the plan).
UndoKey = Literal["routes", "new_color"]


@dataclass(frozen=True)
class Run:
    """Run one command. `check=False`: its failure is reported, not fatal (prune)."""

    command: Command
    phase: Phase
    step: FailedStep
    check: bool = True
    # What puts this step's effect back if a later one fails (see UndoKey).
    undo: tuple[Run | Wait, ...] = ()
    undo_key: UndoKey | None = None

    def describe(self) -> str:
        return self.command.shell()


@dataclass(frozen=True)
class Wait:
    """Poll until a condition holds, at most `timeout` seconds, every `interval`."""

    kind: WaitKind
    subject: str
    phase: Phase
    step: FailedStep
    timeout: float
    interval: float
    # The docker command polled (None for an HTTP probe or the smoke command).
    probe: Command | None = None
    # Run once before polling (the drain: the addresses of the color it watches).
    setup: Command | None = None
    # The local command run (smoke): `{url}` already filled in.
    argv: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # Read when the wait fails, to show why (the container's last log lines).
    diagnose: Command | None = None
    # The watch: the liveness URL it also polls (every `liveness_interval_s`).
    url: str = ""

    def describe(self) -> str:
        what = {
            "healthy": f"until Docker reports {self.subject} healthy",
            "live": f"until {self.subject} answers 2xx (liveness, every {self.interval:g}s)",
            "ready": f"until {self.subject} answers 2xx",
            "smoke": f"until the smoke tests pass against {self.subject}",
            "watch": f"while {self.subject}'s error rate is watched"
            + (f" and {self.url} is probed (liveness)" if self.url else "")
            + ", the old color still running",
            "drained": f"until {self.subject} has no request in flight",
            "database": f"until {self.subject} accepts connections",
        }[self.kind]
        limits = [f"at most {self.timeout:g}s"]
        limits += [f"{key} {value:g}" for key, value in self.thresholds.items()]
        return f"# wait {what} ({', '.join(limits)})"


@dataclass(frozen=True)
class Check:
    """Commands whose answer decides whether `then` runs (see `describe`)."""

    kind: CheckKind
    phase: Phase
    step: FailedStep
    commands: tuple[Command, ...] = ()
    then: tuple[Step, ...] = ()
    allow: bool = False  # destructive_guard: --allow-destructive

    def describe(self) -> str:
        if self.kind == "pending_migrations":
            return (
                "# check which migrations the new image would apply (the last command "
                "prints them); if any: the steps below; if none: skip them"
            )
        allowed = " (allowed: --allow-destructive)" if self.allow else ""
        return f"# check the pending migrations drop or rename nothing in use{allowed}"


@dataclass(frozen=True)
class Record:
    """Append the release's line to the host's history (filled in at the end)."""

    command: Command
    phase: Phase = "retire"
    step: FailedStep = "history"

    def describe(self) -> str:
        return self.command.shell() + "  # the release record"


Step = Run | Wait | Check | Record


@dataclass(frozen=True)
class Release:
    """What is being deployed: the image, its version, and the color it goes to."""

    image: str
    version: str
    color: Color


def version_of(image: str) -> str:
    """The version an image reference carries: its tag, else its short digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    return digest.split(":")[-1][:12] if digest else "latest"


@dataclass(frozen=True)
class Plan:
    """The steps of one command against one environment, as the host reported it."""

    action: Literal["deploy", "rollback", "maintenance"]
    environment: str
    release: Release | None
    previous: str  # the live release before the plan ("" when nothing was live)
    steps: tuple[Step, ...]
    # Run at the end whatever the outcome: the image id lookup and the history record.
    finish: tuple[Step, ...] = ()
    # What planning read from the host, in order (queries only).
    reads: tuple[Command, ...] = ()
    notes: tuple[str, ...] = ()
    # The router was stopped: the plan after the bootstrap is made once it runs.
    replan_after_bootstrap: bool = False
    # The images the plan runs, by the key that names each (`proxy.image`, `--image`...):
    # a missing one is reported by its key.
    images: Mapping[str, str] = field(default_factory=dict)
    # The release image was not on the host when planned: the deploy brings it (the
    # record says so, and only such images are pruned by default).
    pulls_image: bool = False

    def lines(self) -> list[str]:
        """The plan as text: commands as shell lines, waits and checks as comments."""
        lines = [f"# note: {note}" for note in self.notes]
        phase = ""
        for step in self.steps:
            if step.phase != phase:
                phase = step.phase
                lines.append(f"# --- {phase}")
            lines += _step_lines(step)
        if self.replan_after_bootstrap:
            lines.append("# the router was stopped: the rest is planned once it runs again")
        if self.finish:
            lines.append("# --- finally")
            for step in self.finish:
                lines += _step_lines(step)
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "environment": self.environment,
            "release": None if self.release is None else self.release.__dict__,
            "previous": self.previous or None,
            "notes": list(self.notes),
            "reads": [_command_json(command) for command in self.reads],
            "steps": [step_json(step) for step in self.steps],
            "finally": [step_json(step) for step in self.finish],
            "replan_after_bootstrap": self.replan_after_bootstrap,
            "images": dict(self.images),
            "pulls_image": self.pulls_image,
        }


def _step_lines(step: Step, indent: str = "") -> list[str]:
    lines = [indent + step.describe()]
    if isinstance(step, Check):
        lines += [indent + "  " + command.shell() for command in step.commands]
        for inner in step.then:
            lines += _step_lines(inner, indent + "  ")
    return lines


def _command_json(command: Command) -> dict[str, Any]:
    stdin: str | None = None
    if command.secret_stdin is not None:
        stdin = f"({command.secret_label or 'secrets'})"
    elif command.stdin is not None:
        stdin = f"({len(command.stdin.encode())} bytes)"
    return {"argv": list(command.argv), "purpose": command.purpose, "stdin": stdin}


def step_json(step: Step) -> dict[str, Any]:
    """One step as JSON: its type, phase, failing-step name and everything it decides by."""
    base: dict[str, Any] = {"phase": step.phase, "step": step.step}
    if isinstance(step, Run):
        return {
            "type": "run",
            **base,
            **_command_json(step.command),
            "check": step.check,
            "undo": [step_json(undo) for undo in step.undo],
            "undo_key": step.undo_key,
        }
    if isinstance(step, Record):
        return {"type": "record", **base, **_command_json(step.command)}
    if isinstance(step, Wait):
        return {
            "type": "wait",
            **base,
            "kind": step.kind,
            "subject": step.subject,
            "timeout_s": step.timeout,
            "interval_s": step.interval,
            "thresholds": dict(step.thresholds),
            "setup": None if step.setup is None else _command_json(step.setup),
            "probe": None if step.probe is None else _command_json(step.probe),
            "argv": list(step.argv) or None,
            "diagnose": None if step.diagnose is None else _command_json(step.diagnose),
            "url": step.url or None,
        }
    return {
        "type": "check",
        **base,
        "kind": step.kind,
        "commands": [_command_json(command) for command in step.commands],
        "then": [step_json(inner) for inner in step.then],
        "allow": step.allow,
    }


def commands_of(steps: Sequence[Step]) -> list[Command]:
    """Every command the steps name, checks' own and their `then` included, in order
    (waits: their probe once). What a deploy along the plan's happy path runs."""
    found: list[Command] = []
    for step in steps:
        if isinstance(step, Run | Record):
            found.append(step.command)
        elif isinstance(step, Wait):
            found += [c for c in (step.setup, step.probe) if c is not None]
        else:
            found += step.commands
            found += commands_of(step.then)
    return found
