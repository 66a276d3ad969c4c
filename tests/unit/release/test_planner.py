"""The blue-green plan as tables (pyinfra style): what the host reports -> the steps, and
what the fake host then received from `deploy()` and `rollback()`: exactly the plan."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pytest

from gangway.commands import docker
from gangway.release.plan import Check, Plan, Run, Step, Wait
from gangway.release.state import ContainerInfo, HostState, RoutingState
from tests.support.fake_host import TARGET, FakeHost, backend_on
from tests.support.plan_trace import expected_argvs, without_lock_and_reads

from .conftest import MakeDeployer
from .test_deployer import record

IMAGE = "127.0.0.1:5000/notes:2.0.0"
CONF = docker.ROUTER_CONFIG
LOCK = "notes-production-lock"
QUICK = {"environments.production.watch.window": "1ms"}


def container(
    role: str, name: str, *, running: bool = True, color: str = "", version: str = ""
) -> ContainerInfo:
    labels = TARGET.labels(role)
    if color:
        labels |= {"dev.gangway.color": color, "dev.gangway.version": version,
                   "dev.gangway.image": f"127.0.0.1:5000/notes:{version}"}  # fmt: skip
    status = "running" if running else "exited"
    return ContainerInfo(name, role, running, status, None, 0, "sha256:ab", labels)


ROUTER = container("router", "notes-production-router")
PROXY = container("proxy", "notes-production-proxy")


def app(color: str, version: str = "1.0.0", *, running: bool = True) -> ContainerInfo:
    name = f"notes-production-{color}"
    return container("app", name, running=running, color=color, version=version)


def host(*containers: ContainerInfo, live: str | None = None, network: bool = True) -> HostState:
    routing = RoutingState.from_json(f'{{"live": "{live}"}}' if live else "")
    return HostState(containers=containers, network=network, routing=routing)


def written_state(script: str) -> str:
    """The state.json a switch script writes ("" when it writes none)."""
    words = shlex.split(script)
    return words[words.index("printf") + 2] if "printf" in words else ""


def outline(steps: Sequence[Step]) -> list[str]:
    """The steps as table cells: a command's purpose, `wait <kind> <subject>`, `check
    <kind>` followed by what the check runs and what it decides."""
    cells: list[str] = []
    for step in steps:
        if isinstance(step, Wait):
            cells.append(f"wait {step.kind} {step.subject}")
        elif isinstance(step, Check):
            cells.append(f"check {step.kind}")
            cells += [command.purpose for command in step.commands]
            cells += outline(step.then)
        else:
            cells.append(step.command.purpose)
    return cells


SEED = [
    "create volume notes-production-state",
    f"write {CONF} into notes-production-state",
    f"write {docker.PROXY_CONFIG} into notes-production-state",
    f"write {docker.STATE_FILE} into notes-production-state",
    "start the router notes-production-router",
]
MIGRATE = [
    "check pending_migrations",
    "list the migrations 2.0.0 would apply",
    "check destructive_guard",
    "create volume notes-production-backups",
    "back up the database to notes-production-backups (before 2.0.0)",
    "run `app migrate` in 2.0.0",
]


def route(routes: str) -> list[str]:
    return [f"route {routes}"]


def prove_and_switch(color: str, live: str = "none", *, watched: bool = False) -> list[str]:
    """A watch that follows probes liveness through the preview route: it stays on."""
    return [
        *route(f"live={live} preview={color}"),
        f"wait healthy notes-production-{color}",
        "wait live http://127.0.0.1:8181/health",
        "wait ready http://127.0.0.1:8181/ready",
        *route(f"live={color} preview={color if watched else 'none'}"),
    ]


def retire(color: str) -> list[str]:
    new = "green" if color == "blue" else "blue"
    return [
        f"wait watch {new}",
        f"wait drained notes-production-{color}",
        f"stop notes-production-{color} (grace 30s)",
    ]


# -- fake hosts for the table: each builds the state its case names --------------------


def fresh() -> FakeHost:
    return FakeHost()


def live_blue() -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", "1.0.0")
    return fake


def live_green_with_blue_kept() -> FakeHost:
    fake = FakeHost().bootstrapped(live="green")
    fake.add_app("green", "1.0.0")
    fake.add_app("blue", "0.9.0", running=False)
    return fake


def live_blue_with_green_kept() -> FakeHost:
    fake = live_blue()
    fake.add_app("green", "0.9.0", running=False)
    return fake


def stopped_router() -> FakeHost:
    fake = FakeHost()
    fake.network = True
    fake.add(TARGET.router, TARGET.labels("router"), running=False)
    fake.add(TARGET.proxy, TARGET.labels("proxy"))
    return fake


def stopped_proxy_no_network() -> FakeHost:
    fake = FakeHost().bootstrapped()
    fake.network = False
    fake.containers[TARGET.proxy]["State"].update(Running=False, Status="exited")
    return fake


def missing_proxy() -> FakeHost:
    fake = FakeHost().bootstrapped()
    fake.containers.pop(TARGET.proxy)
    return fake


def live_blue_stopped() -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", "1.0.0", running=False)
    return fake


def live_blue_missing() -> FakeHost:
    return FakeHost().bootstrapped(live="blue")


@dataclass(frozen=True)
class Case:
    id: str
    host: Callable[[], FakeHost]
    expected: Sequence[str]


FINISH = [f"inspect image {IMAGE}", "append the release to the history"]

CASES = [
    Case(
        "fresh-host",
        fresh,
        [
            "create network notes-production",
            *SEED,
            "start the proxy notes-production-proxy",
            *MIGRATE,
            "start blue (2.0.0)",
            *prove_and_switch("blue"),
        ],
    ),
    Case(
        "live-blue-goes-green-and-retires-blue",
        live_blue,
        [
            *MIGRATE,
            "start green (2.0.0)",
            *prove_and_switch("green", "blue", watched=True),
            *retire("blue"),
        ],
    ),
    Case(
        "live-green-goes-blue",
        live_green_with_blue_kept,
        [
            *MIGRATE,
            "remove notes-production-blue",
            "start blue (2.0.0)",
            *prove_and_switch("blue", "green", watched=True),
            *retire("green"),
        ],
    ),
    Case(
        "stopped-green-is-removed-before-the-new-one-is-created",
        live_blue_with_green_kept,
        [
            *MIGRATE,
            "remove notes-production-green",
            "start green (2.0.0)",
            *prove_and_switch("green", "blue", watched=True),
            *retire("blue"),
        ],
    ),
    Case(
        "stopped-proxy-is-started-and-a-missing-network-created",
        stopped_proxy_no_network,
        [
            "create network notes-production",
            "start notes-production-proxy",
            *MIGRATE,
            "start blue (2.0.0)",
            *prove_and_switch("blue"),
        ],
    ),
    Case(
        "missing-proxy-alone-is-started",
        missing_proxy,
        [
            "start the proxy notes-production-proxy",
            *MIGRATE,
            "start blue (2.0.0)",
            *prove_and_switch("blue"),
        ],
    ),
    Case(
        "live-color-not-running-has-nothing-to-retire",
        live_blue_stopped,
        [*MIGRATE, "start green (2.0.0)", *prove_and_switch("green", "blue")],
    ),
    Case(
        "live-color-missing-has-nothing-to-retire",
        live_blue_missing,
        [*MIGRATE, "start green (2.0.0)", *prove_and_switch("green", "blue")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_deploy_plan_for_what_the_host_reports(make_deployer: MakeDeployer, case: Case) -> None:
    plan = make_deployer(case.host().executor(), overrides=QUICK).plan_deploy(IMAGE, "2.0.0")

    assert outline(plan.steps) == list(case.expected)
    assert outline(plan.finish) == FINISH


@pytest.mark.parametrize("pending", [False, True], ids=["none-pending", "pending"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_deploy_runs_exactly_the_plan_on_the_host(
    make_deployer: MakeDeployer, case: Case, pending: bool
) -> None:
    planned = make_deployer(case.host().executor(), overrides=QUICK).plan_deploy(IMAGE, "2.0.0")
    fake = case.host()
    fake.pending = [{"revision": "0002", "description": "add tags"}] if pending else []
    executor = fake.executor()

    make_deployer(executor, overrides=QUICK).deploy(IMAGE, "2.0.0")

    ran = without_lock_and_reads([c.argv for c in executor.commands], planned.to_json(), LOCK)
    assert ran == expected_argvs(planned.to_json(), pending=pending)
    assert fake.history()[-1]["outcome"] == "succeeded"


def test_a_failed_proof_runs_the_plan_up_to_it_then_its_undos(
    make_deployer: MakeDeployer,
) -> None:
    planned = make_deployer(live_blue().executor(), overrides=QUICK).plan_deploy(IMAGE, "2.0.0")
    fake = live_blue()
    fake.health[TARGET.container("green")] = "unhealthy"
    executor = fake.executor()

    with pytest.raises(Exception, match="did not become healthy"):
        make_deployer(executor, overrides=QUICK).deploy(IMAGE, "2.0.0")

    health = next(i for i, s in enumerate(planned.steps) if getattr(s, "kind", "") == "healthy")
    # the failed wait reads the container's logs to show why
    ran = [argv for argv in (c.argv for c in executor.commands) if argv[1] != "logs"]
    assert without_lock_and_reads(ran, planned.to_json(), LOCK) == expected_argvs(
        planned.to_json(), fails_at=health
    )
    assert not fake.running(TARGET.container("green"))
    assert backend_on(fake.files[CONF], 80) == "notes-production-blue"
    assert fake.history()[-1]["outcome"] == "failed"


def test_rollback_runs_exactly_its_plan(make_deployer: MakeDeployer) -> None:
    def host_after_two_deploys() -> FakeHost:
        fake = live_blue_with_green_kept()
        fake.add_history(record("0.9.0"), record("1.0.0"))
        return fake

    fake = host_after_two_deploys()
    planned = make_deployer(host_after_two_deploys().executor()).plan_rollback()
    executor = fake.executor()

    make_deployer(executor).rollback()

    ran = without_lock_and_reads([c.argv for c in executor.commands], planned.to_json(), LOCK)
    assert ran == expected_argvs(planned.to_json())
    assert outline(planned.steps) == [
        "start notes-production-green",
        *prove_and_switch("green", "blue"),
        "wait drained notes-production-blue",
        "stop notes-production-blue (grace 30s)",
    ]


def test_a_stopped_router_is_started_then_the_rest_planned(make_deployer: MakeDeployer) -> None:
    fake = stopped_router()
    deployer = make_deployer(fake.executor(), overrides=QUICK)

    plan = deployer.plan_deploy(IMAGE, "2.0.0")
    assert outline(plan.steps) == ["start notes-production-router"]
    assert plan.replan_after_bootstrap
    assert any("planned once it runs" in line for line in plan.lines())

    deployer.deploy(IMAGE, "2.0.0")
    assert fake.running(TARGET.container("blue"))
    assert fake.history()[-1]["outcome"] == "succeeded"


def test_fresh_host_plan_runs_in_phase_order(make_deployer: MakeDeployer) -> None:
    plan = make_deployer().planner.deploy(host(network=False), IMAGE, "2.0.0")

    phases = [step.phase for step in plan.steps]
    order = ["prepare", "prove", "switch", "watch", "retire"]
    assert phases == sorted(phases, key=order.index)
    assert sum(1 for s in plan.steps if s.step == "bootstrap") == 7
    assert [s.step for s in plan.steps if isinstance(s, Check)] == ["migrate"]
    assert phases.count("switch") == 1  # routes and their record in one command


def test_no_migrate_step_when_the_migrations_command_is_empty(
    make_deployer: MakeDeployer,
) -> None:
    deployer = make_deployer(overrides={"environments.production.migrations.command": []})
    plan = deployer.planner.deploy(host(ROUTER, PROXY, app("blue"), live="blue"), IMAGE, "2.0.0")

    assert outline(plan.steps)[:3] == [
        "start green (2.0.0)",
        "route live=blue preview=green",
        "wait healthy notes-production-green",
    ]
    assert not any(isinstance(s, Check) for s in plan.steps)


def test_without_a_pending_command_every_deploy_backs_up_and_migrates(
    make_deployer: MakeDeployer,
) -> None:
    deployer = make_deployer(overrides={"environments.production.migrations.pending": []})
    plan = deployer.planner.deploy(host(ROUTER, PROXY, app("blue"), live="blue"), IMAGE, "2.0.0")

    assert outline(plan.steps)[:3] == MIGRATE[3:]


def test_retiring_alone_drains_and_stops_without_a_watch(make_deployer: MakeDeployer) -> None:
    steps = make_deployer().planner.retire_steps(app("blue"))

    assert outline(steps) == retire("blue")[1:]


def runs(steps: Sequence[Step]) -> list[Run]:
    return [step for step in steps if isinstance(step, Run)]


def router_writes(steps: Sequence[Step]) -> list[str]:
    """The router configs the steps write, in order."""
    return [
        step.command.stdin or ""
        for step in runs(steps)
        if step.command.purpose.startswith("route ")
    ]


def plan_for(make_deployer: MakeDeployer, state: HostState, **overrides: object) -> Plan:
    return make_deployer(overrides=overrides or None).planner.deploy(state, IMAGE, "2.0.0")


def test_preview_route_keeps_live_blue_and_previews_green_then_switches(
    make_deployer: MakeDeployer,
) -> None:
    plan = plan_for(make_deployer, host(ROUTER, PROXY, app("blue"), live="blue"))

    preview, switched = router_writes(plan.steps)
    assert backend_on(preview, 80) == "notes-production-blue"
    assert backend_on(preview, 81) == "notes-production-green"
    assert backend_on(switched, 80) == "notes-production-green"
    # the watch probes green's liveness through the preview route: it stays on green
    assert backend_on(switched, 81) == "notes-production-green"
    # the routing record is written by the very command that switches
    switch = next(
        s for s in runs(plan.steps) if s.command.purpose == "route live=green preview=green"
    )
    script = switch.command.argv[-1]
    assert written_state(script) == '{"live": "green", "maintenance": false}\n'
    assert script.index("router.conf.next /var") < script.index(docker.STATE_FILE)
    assert script.index(docker.STATE_FILE) < script.index("kill -HUP 1")
    # its undo (after a failed watch) puts back blue and the record that says so
    assert switch.undo_key == "routes"
    [back] = switch.undo
    assert isinstance(back, Run)
    assert written_state(back.command.argv[-1]) == '{"live": "blue", "maintenance": false}\n'
    assert '"nothing to preview"' in (back.command.stdin or "")


def test_switch_keeps_maintenance_on(make_deployer: MakeDeployer) -> None:
    state = HostState(
        containers=(ROUTER, PROXY, app("blue")),
        network=True,
        routing=RoutingState(live="blue", maintenance=True),
    )
    plan = plan_for(make_deployer, state)

    switched = router_writes(plan.steps)[-1]
    assert "Retry-After" in switched
    records = [written_state(s.command.argv[-1]) for s in runs(plan.steps)
               if s.command.purpose.startswith("route")]  # fmt: skip
    assert [r for r in records if r] == ['{"live": "green", "maintenance": true}\n']


def test_fresh_host_is_seeded_with_nothing_live(make_deployer: MakeDeployer) -> None:
    steps = make_deployer().planner.bootstrap_steps(host(network=False))

    seeded = {
        s.command.purpose.split()[1]: s.command.stdin or ""
        for s in runs(steps)
        if s.command.purpose.endswith("into notes-production-state")
    }
    assert set(seeded) == {CONF, docker.PROXY_CONFIG, docker.STATE_FILE}
    assert '"no release deployed yet"' in seeded[CONF]
    assert "set $router notes-production-router;" in seeded[docker.PROXY_CONFIG]
    assert seeded[docker.STATE_FILE] == '{"live": null, "maintenance": false}\n'


def test_bootstrapped_host_needs_no_bootstrap(make_deployer: MakeDeployer) -> None:
    assert make_deployer().planner.bootstrap_steps(host(ROUTER, PROXY)) == []


def test_router_and_proxy_bind_the_environments_address_and_ports(
    make_deployer: MakeDeployer,
) -> None:
    deployer = make_deployer(overrides={"environments.production.address": "0.0.0.0"})
    steps = runs(deployer.planner.bootstrap_steps(host()))

    publishes = [s.command.argv[s.command.argv.index("--publish") + 1] for s in steps
                 if "--publish" in s.command.argv]  # fmt: skip
    assert publishes == ["0.0.0.0:8181:81", "0.0.0.0:8081:80"]


def test_new_release_runs_with_the_environments_env_and_pull_policy(
    make_deployer: MakeDeployer,
) -> None:
    plan = plan_for(
        make_deployer, host(ROUTER, PROXY), **{"environments.production.pull": "always"}
    )
    [run_app] = [s for s in runs(plan.steps) if s.command.purpose == "start blue (2.0.0)"]

    argv = run_app.command.argv
    assert "--pull=always" in argv
    assert ("--env", "APP_ENV=production") in itertools.pairwise(argv)
    assert ("--health-interval", "1s") in itertools.pairwise(argv)
    assert argv[-1] == IMAGE


def test_no_planned_command_carries_a_secret_value(
    make_deployer: MakeDeployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "postgresql://notes:hunter2-very-secret@db/notes"
    monkeypatch.setenv("DATABASE_URL", value)
    plan = plan_for(make_deployer, host(network=False))

    commands = [*plan.reads]
    for step in plan.steps:
        if isinstance(step, Check):
            commands += step.commands
            commands += [s.command for s in runs(step.then)]
        elif isinstance(step, Run):
            commands.append(step.command)
    texts = [arg for c in commands for arg in c.argv] + [c.stdin or "" for c in commands]
    texts += plan.lines()
    assert not any(value in text for text in texts)
    # pending, backup, migrate, the app
    assert sum(1 for c in commands if "DATABASE_URL" in c.argv) == 4


def test_plan_lines_group_by_phase_and_show_waits_checks_and_thresholds(
    make_deployer: MakeDeployer,
) -> None:
    plan = plan_for(make_deployer, host(ROUTER, PROXY, app("blue"), live="blue"))

    lines = plan.lines()

    headers = [line for line in lines if line.startswith("# --- ")]
    assert headers == [
        "# --- prepare", "# --- prove", "# --- switch", "# --- watch", "# --- retire",
        "# --- finally",
    ]  # fmt: skip
    assert lines[1].startswith("# check which migrations the new image would apply")
    assert lines[2].startswith("  docker run --rm --pull=missing --network notes-production ")
    assert "  # check the pending migrations drop or rename nothing in use" in lines
    assert "# wait until Docker reports notes-production-green healthy (at most 30s)" in lines
    assert (
        "# wait until http://127.0.0.1:8181/ready answers 2xx (at most 30s, "
        "request_timeout_s 5)" in lines
    )
    assert (
        "# wait until http://127.0.0.1:8181/health answers 2xx (liveness, every 1s) (at most "
        "30s, request_timeout_s 5)" in lines
    )
    assert (
        "# wait while green's error rate is watched and http://127.0.0.1:8181/health is "
        "probed (liveness), the old color still running (at most 60s, min_requests 20, "
        "max_error_rate 0.05, liveness_interval_s 1, liveness_failures 3, request_timeout_s 5)"
        in lines
    )
    assert (
        "# wait until notes-production-blue has no request in flight (at most 30s, port 8000, "
        "quiet_s 1)" in lines
    )
    assert lines[lines.index("# --- finally") - 1] == "docker stop --time 30 notes-production-blue"
    assert lines[lines.index("# --- switch") + 1].endswith("bytes on stdin)")


def test_plan_json_carries_every_step_with_its_thresholds(make_deployer: MakeDeployer) -> None:
    data = plan_for(make_deployer, host(ROUTER, PROXY, app("blue"), live="blue")).to_json()

    assert data["action"] == "deploy"
    assert data["release"] == {"image": IMAGE, "version": "2.0.0", "color": "green"}
    watch = next(s for s in data["steps"] if s["type"] == "wait" and s["kind"] == "watch")
    assert watch["thresholds"] == {
        "min_requests": 20,
        "max_error_rate": 0.05,
        "liveness_interval_s": 1.0,
        "liveness_failures": 3,
        "request_timeout_s": 5.0,
    }
    assert watch["url"] == "http://127.0.0.1:8181/health"
    live = next(s for s in data["steps"] if s["type"] == "wait" and s["kind"] == "live")
    assert (live["subject"], live["interval_s"], live["timeout_s"]) == (
        "http://127.0.0.1:8181/health", 1.0, 30.0,
    )  # fmt: skip
    assert data["images"] == {
        "proxy.image": "nginx:1.27-alpine",
        "database.image": "postgres:16-alpine",
        "--image": IMAGE,
    }
    assert watch["probe"]["argv"][:3] == ["docker", "exec", "notes-production-router"]
    assert [s["type"] for s in data["finally"]] == ["run", "record"]


def test_smoke_tests_run_between_ready_and_the_switch(make_deployer: MakeDeployer) -> None:
    deployer = make_deployer()
    planner = type(deployer.planner)(
        deployer.config, "production", smoke=("pytest", "--base-url", "{url}")
    )
    plan = planner.deploy(host(ROUTER, PROXY, app("blue"), live="blue"), IMAGE, "2.0.0")
    kinds = [step.kind for step in plan.steps if isinstance(step, Wait)]
    assert kinds == ["healthy", "live", "ready", "smoke", "watch", "drained"]
    smoke = next(step for step in plan.steps if isinstance(step, Wait) and step.kind == "smoke")
    assert smoke.subject == f"http://127.0.0.1:{deployer.env.preview_port}"
    assert smoke.argv == ("pytest", "--base-url", smoke.subject)
    assert smoke.timeout == 120
    switch = next(i for i, s in enumerate(plan.steps) if s.phase == "switch")
    assert plan.steps.index(smoke) < switch


def test_no_smoke_step_without_a_smoke_command(make_deployer: MakeDeployer) -> None:
    plan = plan_for(make_deployer, host(ROUTER, PROXY, app("blue"), live="blue"))
    assert all(step.kind != "smoke" for step in plan.steps if isinstance(step, Wait))


def pruned_by(plan: Plan) -> list[str]:
    return [s.command.argv[-1] for s in runs(plan.steps) if s.command.argv[1:3] == ("image", "rm")]


def old_releases(*, pulled: Sequence[str]) -> HostState:
    """Blue 1.0.0 live; four releases in the history, `pulled` of them brought by gangway."""
    return HostState(
        containers=(ROUTER, PROXY, app("blue", "1.0.0")),
        network=True,
        routing=RoutingState(live="blue"),
        history=tuple(record(v, pulled=v in pulled) for v in ("0.7.0", "0.8.0", "0.9.0", "1.0.0")),
    )


REPO = "127.0.0.1:5000/notes"


@pytest.mark.parametrize(
    ("pulled", "prune", "expected"),
    [
        # retain = 3: 2.0.0, 1.0.0 (the kept blue) and 0.9.0 stay
        (["0.7.0", "0.8.0", "0.9.0", "1.0.0"], "pulled", ["0.8.0", "0.7.0"]),
        # an image that was on the host before gangway deployed it is the user's
        (["0.8.0"], "pulled", ["0.8.0"]),
        ([], "pulled", []),  # records older than the `pulled` field: nothing pruned
        ([], "all", ["0.8.0", "0.7.0"]),
        (["0.7.0"], "all", ["0.8.0", "0.7.0"]),
    ],
    ids=["all-pulled", "one-pulled", "none-pulled", "prune-all", "prune-all-mixed"],
)
def test_prune_removes_beyond_retain_only_what_gangway_pulled_unless_all(
    make_deployer: MakeDeployer, pulled: list[str], prune: str, expected: list[str]
) -> None:
    deployer = make_deployer(overrides={"environments.production.prune": prune})
    plan = deployer.planner.deploy(old_releases(pulled=pulled), IMAGE, "2.0.0")

    assert pruned_by(plan) == [f"{REPO}:{v}" for v in expected]
    assert all(not s.check for s in runs(plan.steps) if s.command.argv[1:3] == ("image", "rm"))


def test_prune_never_removes_an_image_a_kept_container_uses(make_deployer: MakeDeployer) -> None:
    state = old_releases(pulled=["0.7.0", "0.8.0", "0.9.0", "1.0.0"])
    state = replace(state, containers=(*state.containers, app("green", "0.8.0", running=False)))
    # green is replaced by 2.0.0: its image is no longer in use, so 0.8.0 goes
    assert pruned_by(make_deployer().planner.deploy(state, IMAGE, "2.0.0")) == [
        f"{REPO}:0.8.0", f"{REPO}:0.7.0",
    ]  # fmt: skip
    # the live green holds 0.8.0; blue (0.7.0) is replaced by 2.0.0
    kept = (ROUTER, PROXY, app("green", "0.8.0"), app("blue", "0.7.0", running=False))
    state = replace(state, containers=kept, routing=RoutingState(live="green"))
    assert pruned_by(make_deployer().planner.deploy(state, IMAGE, "2.0.0")) == [f"{REPO}:0.7.0"]
