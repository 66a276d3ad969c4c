"""What a deploy must run, given its plan (`Plan.to_json()`, as `gangway plan --json`
prints it): the argv lists of its steps in order, for comparison with what an executor
recorded or what `--trace` printed.

Waits appear once (their probe, polled any number of times, is collapsed); a check's
`then` steps only when it said so; after a failure, the undos of the completed steps
(of each undo key the latest) and then the `finally` steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Argv = tuple[str, ...]


def _step_argvs(step: dict[str, Any], *, pending: bool) -> list[Argv]:
    if step["type"] in ("run", "record"):
        return [tuple(step["argv"])]
    if step["type"] == "wait":
        return [tuple(step[key]["argv"]) for key in ("setup", "probe") if step[key]]
    found = [tuple(command["argv"]) for command in step["commands"]]
    if step["kind"] == "pending_migrations" and not pending:
        return found
    for inner in step["then"]:
        found += _step_argvs(inner, pending=pending)
    return found


def expected_argvs(
    plan: dict[str, Any], *, pending: bool = False, fails_at: int | None = None
) -> list[Argv]:
    """The commands a deploy along `plan` runs. `fails_at`: the index of the step that
    fails (before the switch): the steps up to it, then the undos, then `finally`."""
    steps: Sequence[dict[str, Any]] = plan["steps"]
    if fails_at is not None:
        steps = steps[: fails_at + 1]
    found: list[Argv] = []
    for step in steps:
        found += _step_argvs(step, pending=pending)
    if fails_at is not None:
        done = [s for s in steps[:fails_at] if s["type"] == "run" and s["undo"]]
        seen: set[str] = set()
        for step in reversed(done):
            key = step["undo_key"]
            if key not in seen:
                seen.add(key)
                for undo in step["undo"]:
                    found += _step_argvs(undo, pending=pending)
    for step in plan["finally"]:
        found += _step_argvs(step, pending=pending)
    return collapse(found)


def collapse(argvs: Iterable[Sequence[str]]) -> list[Argv]:
    """Consecutive repeats of one command (a wait's probe, polled) counted once."""
    out: list[Argv] = []
    for argv in argvs:
        item = tuple(argv)
        if not out or out[-1] != item:
            out.append(item)
    return out


def without_lock_and_reads(
    argvs: Sequence[Sequence[str]], plan: dict[str, Any], lock: str
) -> list[Argv]:
    """What a deploy ran after taking the lock and reading the host, before releasing
    the lock: the lock's own commands (its holder token differs each run) dropped, and
    the reads checked to be the plan's."""
    rest = [tuple(argv) for argv in argvs if not _about_the_lock(argv, lock)]
    # While a deploy holds the lock, the lock container is one of the environment's: the
    # ids `docker container inspect` is given differ (and a host with nothing else has
    # one to inspect at all). Those reads are left out of the comparison.
    reads = [tuple(c["argv"]) for c in plan["reads"] if not _inspects_ids(c["argv"])]
    at = 0
    for read in reads:
        while at < len(rest) and _inspects_ids(rest[at]):
            at += 1
        assert rest[at] == read, f"read as the plan did: {rest[at]} != {read}"
        at += 1
    return collapse(rest[at:])


def _about_the_lock(argv: Sequence[str], lock: str) -> bool:
    if tuple(argv[1:3]) == ("container", "inspect"):
        return list(argv[3:]) == [lock]  # the lock's own look, not a read of the state
    return lock in argv


def _inspects_ids(argv: Sequence[str]) -> bool:
    return tuple(argv[1:3]) == ("container", "inspect") and tuple(argv[3:4]) != ("--format",)
