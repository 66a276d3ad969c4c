"""The blue-green plan as tables (pyinfra style): what the host reports -> the steps."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from gangway.commands import docker
from gangway.release.deployer import Run, Step, Wait, plan_lines
from gangway.release.state import ContainerInfo, HostState, RoutingState
from tests.support.fake_host import TARGET, backend_on

from .conftest import MakeDeployer

IMAGE = "127.0.0.1:5000/notes:2.0.0"
CONF = docker.ROUTER_CONFIG
NEXT = docker.ROUTER_CONFIG + ".next"


def container(
    role: str, name: str, *, running: bool = True, color: str = "", version: str = ""
) -> ContainerInfo:
    labels = TARGET.labels(role)
    if color:
        labels |= {"dev.gangway.color": color, "dev.gangway.version": version}
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


def outline(step: Step) -> str:
    """One step as a table cell: a command's purpose, or `wait <kind> <subject>`."""
    if isinstance(step, Wait):
        return f"wait {step.kind} {step.subject}"
    return step.command.purpose


SEED = [
    "create volume notes-production-state",
    f"write {CONF} into notes-production-state",
    f"write {docker.PROXY_CONFIG} into notes-production-state",
    f"write {docker.STATE_FILE} into notes-production-state",
    "start the router notes-production-router",
]


def route(routes: str) -> list[str]:
    return [f"route {routes}"]


MIGRATE = [
    "list the migrations 2.0.0 would apply",
    "back up the database to notes-production-backups/<time>-2.0.0.dump "
    "(if migrations are pending)",
    "run `app migrate` in 2.0.0",
]


def prove_and_switch(color: str, live: str = "none") -> list[str]:
    return [
        *route(f"live={live} preview={color}"),
        f"wait healthy notes-production-{color}",
        "wait ready http://127.0.0.1:8181/ready",
        *route(f"live={color} preview=none"),
    ]


def retire(color: str) -> list[str]:
    new = "green" if color == "blue" else "blue"
    return [
        f"wait watch {new}",
        f"wait drained notes-production-{color}",
        f"stop notes-production-{color} (grace 10s)",
    ]


@dataclass(frozen=True)
class Case:
    id: str
    state: HostState
    expected: Sequence[str]


CASES = [
    Case(
        "fresh-host",
        host(network=False),
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
        host(ROUTER, PROXY, app("blue"), live="blue"),
        [*MIGRATE, "start green (2.0.0)", *prove_and_switch("green", "blue"), *retire("blue")],
    ),
    Case(
        "live-green-goes-blue",
        host(ROUTER, PROXY, app("green"), app("blue", "0.9.0", running=False), live="green"),
        [
            *MIGRATE,
            "remove notes-production-blue",
            "start blue (2.0.0)",
            *prove_and_switch("blue", "green"),
            *retire("green"),
        ],
    ),
    Case(
        "stopped-green-is-removed-before-the-new-one-is-created",
        host(ROUTER, PROXY, app("blue"), app("green", "0.9.0", running=False), live="blue"),
        [
            *MIGRATE,
            "remove notes-production-green",
            "start green (2.0.0)",
            *prove_and_switch("green", "blue"),
            *retire("blue"),
        ],
    ),
    Case(
        "stopped-router-is-started-not-recreated",
        host(container("router", ROUTER.name, running=False), PROXY),
        [
            "start notes-production-router",
            *MIGRATE,
            "start blue (2.0.0)",
            *prove_and_switch("blue"),
        ],
    ),
    Case(
        "stopped-proxy-is-started-and-a-missing-network-created",
        host(ROUTER, container("proxy", PROXY.name, running=False), network=False),
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
        host(ROUTER),
        [
            "start the proxy notes-production-proxy",
            *MIGRATE,
            "start blue (2.0.0)",
            *prove_and_switch("blue"),
        ],
    ),
    Case(
        "live-color-not-running-has-nothing-to-retire",
        host(ROUTER, PROXY, app("blue", running=False), live="blue"),
        [*MIGRATE, "start green (2.0.0)", *prove_and_switch("green", "blue")],
    ),
    Case(
        "live-color-missing-has-nothing-to-retire",
        host(ROUTER, PROXY, live="blue"),
        [*MIGRATE, "start green (2.0.0)", *prove_and_switch("green", "blue")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_deploy_plan_for_what_the_host_reports(make_deployer: MakeDeployer, case: Case) -> None:
    steps = make_deployer().deploy_steps(case.state, IMAGE, "2.0.0")

    assert [outline(step) for step in steps] == list(case.expected)


def test_fresh_host_plan_runs_in_phase_order(make_deployer: MakeDeployer) -> None:
    steps = make_deployer().deploy_steps(host(network=False), IMAGE, "2.0.0")

    phases = [step.phase for step in steps]
    order = ["bootstrap", "migrate", "prepare", "prove", "switch"]
    assert phases == sorted(phases, key=order.index)
    assert phases.count("bootstrap") == 7
    assert phases.count("migrate") == 3
    assert phases.count("switch") == 1  # routes and their record in one command


def test_no_migrate_step_when_the_migrations_command_is_empty(
    make_deployer: MakeDeployer,
) -> None:
    deployer = make_deployer(overrides={"environments.production.migrations.command": []})
    steps = deployer.deploy_steps(host(ROUTER, PROXY, app("blue"), live="blue"), IMAGE, "2.0.0")

    assert [outline(step) for step in steps][:3] == [
        "start green (2.0.0)",
        "route live=blue preview=green",
        "wait healthy notes-production-green",
    ]
    assert not any(s.command.argv[:3] == ("docker", "run", "--rm") for s in runs(steps))


def test_retiring_alone_drains_and_stops_without_a_watch(
    make_deployer: MakeDeployer,
) -> None:
    steps = make_deployer().retire_steps(app("blue"))

    assert [outline(step) for step in steps] == retire("blue")[1:]


def runs(steps: Sequence[Step]) -> list[Run]:
    return [step for step in steps if isinstance(step, Run)]


def router_writes(steps: Sequence[Step]) -> list[str]:
    """The router configs the steps write, in order."""
    return [
        step.command.stdin or ""
        for step in runs(steps)
        if step.command.purpose.startswith("route ")
    ]


def test_preview_route_keeps_live_blue_and_previews_green_then_switches(
    make_deployer: MakeDeployer,
) -> None:
    steps = make_deployer().deploy_steps(
        host(ROUTER, PROXY, app("blue"), live="blue"), IMAGE, "2.0.0"
    )

    preview, switched = router_writes(steps)
    assert backend_on(preview, 80) == "notes-production-blue"
    assert backend_on(preview, 81) == "notes-production-green"
    assert backend_on(switched, 80) == "notes-production-green"
    assert backend_on(switched, 81) is None
    assert '"nothing to preview"' in switched
    # the routing record is written by the very command that switches
    switch = next(s for s in runs(steps) if s.command.purpose == "route live=green preview=none")
    script = switch.command.argv[-1]
    assert written_state(script) == '{"live": "green", "maintenance": false}\n'
    assert script.index("router.conf.next /var") < script.index(docker.STATE_FILE)
    assert script.index(docker.STATE_FILE) < script.index("kill -HUP 1")


def test_switch_keeps_maintenance_on(make_deployer: MakeDeployer) -> None:
    state = HostState(
        containers=(ROUTER, PROXY, app("blue")),
        network=True,
        routing=RoutingState(live="blue", maintenance=True),
    )
    steps = make_deployer().deploy_steps(state, IMAGE, "2.0.0")

    switched = router_writes(steps)[-1]
    assert "Retry-After" in switched
    records = [
        written_state(s.command.argv[-1])
        for s in runs(steps)
        if s.command.purpose.startswith("route")
    ]
    assert [r for r in records if r] == ['{"live": "green", "maintenance": true}\n']


def test_fresh_host_is_seeded_with_nothing_live(make_deployer: MakeDeployer) -> None:
    steps = make_deployer().bootstrap_steps(host(network=False))

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
    assert make_deployer().bootstrap_steps(host(ROUTER, PROXY)) == []


def test_router_and_proxy_bind_the_environments_address_and_ports(
    make_deployer: MakeDeployer,
) -> None:
    deployer = make_deployer(overrides={"environments.production.address": "0.0.0.0"})
    steps = runs(deployer.bootstrap_steps(host()))

    publishes = [s.command.argv[s.command.argv.index("--publish") + 1] for s in steps
                 if "--publish" in s.command.argv]  # fmt: skip
    assert publishes == ["0.0.0.0:8181:81", "0.0.0.0:8081:80"]


def test_new_release_runs_with_the_environments_env_and_pull_policy(
    make_deployer: MakeDeployer,
) -> None:
    deployer = make_deployer(overrides={"environments.production.pull": "always"})
    [run_app] = [
        s for s in runs(deployer.deploy_steps(host(ROUTER, PROXY), IMAGE, "2.0.0"))
        if s.command.purpose == "start blue (2.0.0)"
    ]  # fmt: skip

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
    steps = make_deployer().deploy_steps(host(network=False), IMAGE, "2.0.0")

    texts = [arg for s in runs(steps) for arg in s.command.argv]
    texts += [s.command.stdin or "" for s in runs(steps)] + plan_lines(steps)
    assert not any(value in text for text in texts)
    # pending, backup, migrate, the app
    assert sum(1 for s in runs(steps) if "DATABASE_URL" in s.command.argv) == 4


def test_plan_lines_group_by_phase_and_show_waits_as_comments(
    make_deployer: MakeDeployer,
) -> None:
    steps = make_deployer().deploy_steps(
        host(ROUTER, PROXY, app("blue"), live="blue"), IMAGE, "2.0.0"
    )

    lines = plan_lines(steps)

    headers = [line for line in lines if line.startswith("# --- ")]
    assert headers == [
        "# --- migrate",
        "# --- prepare",
        "# --- prove",
        "# --- switch",
        "# --- watch",
        "# --- retire",
    ]
    assert lines[0] == "# --- migrate"
    assert lines[1].startswith("docker run --rm --pull=missing --network notes-production ")
    assert "# wait until Docker reports notes-production-green healthy (at most 30s)" in lines
    assert "# wait until http://127.0.0.1:8181/ready answers 2xx (at most 30s)" in lines
    assert (
        "# wait while green's error rate is watched, the old color still running "
        "(at most 60s)" in lines
    )
    assert "# wait until notes-production-blue has no request in flight (at most 30s)" in lines
    assert lines[-1] == "docker stop --time 10 notes-production-blue"
    assert lines[lines.index("# --- switch") + 1].endswith("bytes on stdin)")
    assert len(lines) == len(steps) + len(headers)


def test_smoke_tests_run_between_ready_and_the_switch(make_deployer: MakeDeployer) -> None:
    deployer = make_deployer()
    deployer.smoke = ("pytest", "--base-url", "{url}")
    state = host(ROUTER, PROXY, app("blue"), live="blue")
    steps = deployer.deploy_steps(state, IMAGE, "2.0.0")
    kinds = [step.kind for step in steps if isinstance(step, Wait)]
    assert kinds == ["healthy", "ready", "smoke", "watch", "drained"]
    smoke = next(step for step in steps if isinstance(step, Wait) and step.kind == "smoke")
    assert smoke.subject == f"http://127.0.0.1:{deployer.env.preview_port}"
    assert smoke.timeout == 120
    switch = next(i for i, s in enumerate(steps) if s.phase == "switch")
    assert steps.index(smoke) < switch
    assert "# wait until the smoke tests pass against http://127.0.0.1:" in "\n".join(
        plan_lines(steps)
    )


def test_no_smoke_step_without_a_smoke_command(make_deployer: MakeDeployer) -> None:
    state = host(ROUTER, PROXY, app("blue"), live="blue")
    steps = make_deployer().deploy_steps(state, IMAGE, "2.0.0")
    assert all(step.kind != "smoke" for step in steps if isinstance(step, Wait))
