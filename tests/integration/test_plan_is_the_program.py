"""`gangway plan --json` is what runs: on the real engine, with --trace, the docker
commands of a first deploy, a second deploy, a rollback and a failing deploy are
exactly, in order, the commands the plan listed for the same state and image."""

from __future__ import annotations

import json
import shlex
from typing import Any

from tests.integration import test_deploy
from tests.integration.test_deploy import Stage
from tests.support.plan_trace import expected_argvs, without_lock_and_reads

release_images = test_deploy.release_images
stage = test_deploy.stage
Argv = tuple[str, ...]


def traced(stderr: str) -> list[Argv]:
    """The argv of every `+ ...` line --trace printed (an argument may span lines)."""
    found: list[Argv] = []
    pending = ""
    for line in stderr.splitlines():
        if pending:
            pending += "\n" + line
        elif line.startswith("+ "):
            pending = line[2:]
        else:
            continue
        try:
            argv = tuple(shlex.split(pending))
        except ValueError:
            continue  # an open quote: the argument goes on on the next line
        found.append(argv)
        pending = ""
    return [argv for argv in found if argv[:1] == ("docker",)]


def plan(stage: Stage, *args: str) -> dict[str, Any]:
    proc = stage.gangway("plan", "--env", "production", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def run_traced(stage: Stage, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = stage.gangway("--trace", *args, env=env)
    return proc.returncode, proc.stderr


def assert_ran_the_plan(
    stage: Stage, planned: dict[str, Any], stderr: str, *, fails_at: int | None = None
) -> None:
    lock = f"{stage.app}-production-lock"
    pending = " pending: " in stderr  # the check said so: its `then` steps ran
    ran = without_lock_and_reads(traced(stderr), planned, lock)
    assert ran == expected_argvs(planned, pending=pending, fails_at=fails_at)


def test_deploys_a_rollback_and_a_failed_deploy_run_exactly_their_plans(stage: Stage) -> None:
    deploy = ("deploy", "--env", "production", "--version")

    # a first deploy: bootstrap, pending migrations (a fresh database), no watch
    first = plan(stage, "--image", stage.images["v1"], "--version", "v1")
    code, stderr = run_traced(stage, *deploy, "v1", "--image", stage.images["v1"])
    assert code == 0, stderr
    assert " pending: " in stderr
    assert_ran_the_plan(stage, first, stderr)
    assert any(step["type"] == "check" for step in first["steps"])

    # a second deploy: no bootstrap, no migration, the watch and the retire
    second = plan(stage, "--image", stage.images["v2"], "--version", "v2")
    code, stderr = run_traced(stage, *deploy, "v2", "--image", stage.images["v2"])
    assert code == 0, stderr
    assert_ran_the_plan(stage, second, stderr)
    kinds = [step.get("kind") for step in second["steps"] if step["type"] == "wait"]
    assert kinds == ["healthy", "live", "ready", "watch", "drained"]

    # a rollback to v1's kept container
    back = plan(stage, "--rollback")
    code, stderr = run_traced(stage, "rollback", "--env", "production")
    assert code == 0, stderr
    assert_ran_the_plan(stage, back, stderr)
    assert stage.live_version() == "v1"

    # a release that never gets ready: the plan up to its readiness wait, then the undos
    never = {
        "GANGWAY_ENVIRONMENTS__PRODUCTION__ENV__APP_FAULT": "not-ready",
        "GANGWAY_ENVIRONMENTS__PRODUCTION__HEALTH__DEPLOY_TIMEOUT": "4s",
    }
    failing = stage.gangway(
        "plan", "--env", "production", "--json", "--image", stage.images["v3"], "--version",
        "v3", env=never,
    )  # fmt: skip
    assert failing.returncode == 0, failing.stderr
    planned = json.loads(failing.stdout)
    code, stderr = run_traced(stage, *deploy, "v3", "--image", stage.images["v3"], env=never)
    assert code == 1, stderr
    ready = next(
        i for i, s in enumerate(planned["steps"]) if s["type"] == "wait" and s["kind"] == "ready"
    )
    assert_ran_the_plan(stage, planned, stderr, fails_at=ready)
    assert stage.live_version() == "v1"
    assert stage.status()["history"][-1]["outcome"] == "failed"
