"""The waits of a plan: each poller against a recording executor, and the pure verdicts."""

from __future__ import annotations

import io
import itertools
import json
import sys
from typing import Any

import pytest

from gangway.commands import docker
from gangway.commands.docker import Command
from gangway.errors import DeployFailed, HealthCheckFailed
from gangway.execute import DockerCli, RecordingExecutor, Result
from gangway.health import proc_address
from gangway.progress import Progress
from gangway.release.images import image_unavailable
from gangway.release.plan import Wait
from gangway.release.probes import Pollers, health_verdict, watch_verdict
from tests.support.fake_host import TARGET, FakeHost

GREEN = "notes-production-green"


def pollers(executor: RecordingExecutor | None = None) -> Pollers:
    return Pollers(
        executor or RecordingExecutor(), DockerCli(), Progress(quiet=True), sleep=lambda _s: None
    )


def healthy_wait(timeout: float = 30) -> Wait:
    return Wait("healthy", GREEN, "prove", "health", timeout=timeout, interval=0.01,
                probe=docker.container_state(GREEN), diagnose=docker.logs(GREEN))  # fmt: skip


def smoke_wait(*argv: str, timeout: float = 30) -> Wait:
    return Wait("smoke", "http://x:1", "prove", "smoke", timeout=timeout, interval=0, argv=argv)


def state_answer(state: dict[str, Any], restarts: int = 0) -> Result:
    return Result(0, json.dumps({"state": state, "restarts": restarts}), "")


@pytest.mark.parametrize(
    ("state", "restarts", "verdict"),
    [
        ({"Running": True}, 0, "healthy"),  # no HEALTHCHECK: running is all
        ({"Running": True, "Health": {"Status": "healthy"}}, 0, "healthy"),
        ({"Running": True, "Health": {"Status": "starting"}}, 0, "starting"),
        ({"Running": True, "Health": {"Status": "unhealthy"}}, 0, "unhealthy"),
        ({"Running": True, "Health": {"Status": "starting"}}, 2, "crashed"),
        ({"Running": False, "ExitCode": 3}, 0, "crashed"),
        ({"Running": True, "Restarting": True}, 0, "crashed"),
    ],
)
def test_health_verdict(state: dict[str, Any], restarts: int, verdict: str) -> None:
    assert health_verdict({"state": state, "restarts": restarts}) == verdict


@pytest.mark.parametrize(
    ("total", "errors", "verdict"),
    [(0, 0, "too_few"), (19, 19, "too_few"), (20, 1, "judged"), (20, 2, "failing"),
     (100, 5, "judged"), (100, 6, "failing")],
)  # fmt: skip
def test_watch_verdict_needs_enough_requests_then_compares_the_rate(
    total: int, errors: int, verdict: str
) -> None:
    assert watch_verdict(total, errors, min_requests=20, max_error_rate=0.05) == verdict


def test_health_check_sees_a_crash_loop_through_the_restart_count() -> None:
    def respond(command: Command) -> Result:
        if command.purpose.startswith("read the state of"):
            return state_answer({"Running": True, "Health": {"Status": "starting"}}, 2)
        if command.argv[1] == "logs":
            return Result(0, "", "Traceback: KeyError: 'DATABASE_URL'\n")
        raise AssertionError(command.argv)

    with pytest.raises(HealthCheckFailed) as caught:
        pollers(RecordingExecutor(respond)).wait(healthy_wait())

    assert caught.value.step == "start"
    assert "restarted 2 time(s)" in caught.value.reason
    assert "KeyError: 'DATABASE_URL'" in caught.value.logs


def test_health_check_of_an_exited_container_reports_its_exit_code() -> None:
    def respond(command: Command) -> Result:
        if command.purpose.startswith("read the state of"):
            return state_answer({"Running": False, "ExitCode": 3})
        return Result(0, "", "")

    with pytest.raises(HealthCheckFailed, match="exited with code 3 before it became healthy"):
        pollers(RecordingExecutor(respond)).wait(healthy_wait())


def test_health_check_fails_at_once_when_docker_reports_unhealthy() -> None:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("green", "2.1.0")
    fake.health[GREEN] = "unhealthy"
    executor = fake.executor()

    with pytest.raises(HealthCheckFailed, match="unhealthy"):
        pollers(executor).wait(healthy_wait())

    polls = [c for c in executor.commands if c.purpose.startswith("read the state of")]
    assert len(polls) == 1


def test_a_starting_container_is_polled_until_its_deadline() -> None:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("green", "2.1.0")
    fake.health[GREEN] = "starting"
    executor = fake.executor()

    with pytest.raises(HealthCheckFailed, match=r"within 0\.05s \(Docker health: starting"):
        pollers(executor).wait(healthy_wait(timeout=0.05))

    assert sum(1 for c in executor.commands if c.purpose.startswith("read the state")) > 1


BLUE = "notes-production-blue"
BLUE_LOG = "/var/lib/gangway/logs/blue.log"


def drain_wait(timeout: float = 30, quiet: float = 0.0) -> Wait:
    return Wait("drained", BLUE, "retire", "retire", timeout=timeout, interval=0.01,
                setup=docker.addresses(BLUE), probe=docker.router_traffic(TARGET, BLUE_LOG),
                thresholds={"port": 8000, "quiet_s": quiet})  # fmt: skip


def router_table(fake: FakeHost, *states: str) -> str:
    """The router's TCP table with one connection to blue's app port per state."""
    blue = proc_address(fake.address(BLUE))
    header = "  sl  local_address rem_address   st\n"
    return header + "".join(
        f"   {n}: 030012AC:D2{n:02X} {blue}:1F40 {state} 00000000:00000000\n"
        for n, state in enumerate(states)
    )


def blue_host() -> FakeHost:
    fake = FakeHost().bootstrapped(live="green")
    fake.add_app("blue", "2.0.0")
    return fake


def test_the_drain_waits_while_the_router_has_requests_open_to_the_color() -> None:
    fake = blue_host()
    tables = iter(["01 02", "01", "", ""])
    fake.in_flight = lambda _log: router_table(fake, *next(tables).split())
    executor = fake.executor()

    pollers(executor).wait(drain_wait())

    assert [c.purpose for c in executor.commands] == [
        f"look up the addresses of {BLUE}",
        *["read the router's traffic to blue"] * 3,
    ]


def test_a_color_the_router_still_sends_requests_to_is_not_drained() -> None:
    fake = blue_host()
    served = itertools.count(1)
    # nothing open at any poll, but every poll the router has logged one more request

    def respond(command: Command) -> Result:
        if command.purpose.startswith("read the router's traffic"):
            return Result(0, f"{next(served)}\n---\n", "")
        return fake.respond(command)

    output = io.StringIO()
    Pollers(RecordingExecutor(respond), DockerCli(), Progress(output),
            sleep=lambda _s: None).wait(drain_wait(timeout=0.05))  # fmt: skip
    assert "still open to notes-production-blue after 0.05s" in output.getvalue()


def test_a_gone_or_stopped_color_has_nothing_to_drain() -> None:
    fake = blue_host()
    fake.containers[BLUE]["State"]["Running"] = False
    executor = fake.executor()

    pollers(executor).wait(drain_wait())

    assert [c.purpose for c in executor.commands] == [f"look up the addresses of {BLUE}"]


def test_smoke_command_gets_the_url_and_passes() -> None:
    pollers().wait(
        smoke_wait(sys.executable, "-c", "import sys; sys.exit(sys.argv[1] != 'http://x:1')",
                   "http://x:1")
    )  # fmt: skip


def test_failing_smoke_command_fails_the_deploy_with_its_output() -> None:
    wait = smoke_wait(sys.executable, "-c", "print('2 failed'); raise SystemExit(1)", "x")
    with pytest.raises(DeployFailed, match=r"smoke: smoke tests failed against http://x:1") as info:
        pollers().wait(wait)
    assert "2 failed" in info.value.logs


def test_smoke_command_that_hangs_is_bounded() -> None:
    wait = smoke_wait(sys.executable, "-c", "import time; time.sleep(30)", timeout=0.5)
    with pytest.raises(DeployFailed, match=r"did not finish within 0\.5s"):
        pollers().wait(wait)


def test_missing_smoke_program_says_so() -> None:
    with pytest.raises(DeployFailed, match="smoke command not found: no-such-program-here"):
        pollers().wait(smoke_wait("no-such-program-here", "http://x:1", timeout=5))


@pytest.mark.parametrize(
    ("stderr", "line"),
    [
        (
            "Unable to find image '127.0.0.1:9/absent:v9' locally\ndocker: Error response from "
            'daemon: Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection '
            "refused.\nSee 'docker run --help'.\n",
            'Error response from daemon: Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: '
            "connect: connection refused.",
        ),
        (
            "docker: Error response from daemon: pull access denied for nope, repository does "
            "not exist\n",
            "Error response from daemon: pull access denied for nope, repository does not exist",
        ),
        ("error: migration failed: relation exists\n", ""),
    ],
)
def test_image_unavailable_names_dockers_line(stderr: str, line: str) -> None:
    assert image_unavailable(stderr) == line
