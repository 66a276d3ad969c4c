"""Liveness (`health.path`) is gangway's own check: probed through the preview route before
the switch and during the watch, whether or not the image has a HEALTHCHECK."""

from __future__ import annotations

import pytest

from gangway.commands import docker
from gangway.commands.nginx import status_log
from gangway.errors import DeployFailed, HealthCheckFailed
from gangway.execute import RecordingExecutor, Result
from gangway.health import Probe
from gangway.progress import Progress
from gangway.release.plan import Wait
from gangway.release.probes import Pollers
from tests.support.fake_host import TARGET, FakeHost, backend_on

from .conftest import FakeReadiness, MakeDeployer

IMAGE = "127.0.0.1:5000/notes:2.0.0"
LIVE_URL = "http://127.0.0.1:8181/health"
READY_URL = "http://127.0.0.1:8181/ready"
CONF = "/var/lib/gangway/nginx/router.conf"
QUICK = {
    "environments.production.health.deploy_timeout": "250ms",
    "environments.production.health.interval": "50ms",
    "environments.production.watch.window": "1ms",
    "environments.production.migrations.command": [],
}
FAILING = Probe(False, "HTTP 500: unhealthy", 4, 0.25)
OK = Probe(True, "HTTP 200", 1, 0.0)


def live_blue(*, healthcheck: bool) -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", "1.0.0")
    fake.images.add(IMAGE)
    if not healthcheck:
        fake.healthchecks[IMAGE] = None
    return fake


def kinds(steps: object) -> list[str]:
    assert isinstance(steps, tuple)
    return [step.kind for step in steps if isinstance(step, Wait)]


@pytest.mark.parametrize("healthcheck", [False, True], ids=["no-healthcheck", "healthcheck"])
def test_a_liveness_endpoint_answering_500_fails_the_deploy_live_unharmed(
    make_deployer: MakeDeployer, readiness: FakeReadiness, healthcheck: bool
) -> None:
    # With a HEALTHCHECK (Docker says healthy) the liveness check must pass too.
    fake = live_blue(healthcheck=healthcheck)
    readiness.answers[LIVE_URL] = FAILING
    executor = fake.executor()

    with pytest.raises(HealthCheckFailed) as caught:
        make_deployer(executor, overrides=QUICK).deploy(IMAGE)

    assert caught.value.step == "health"
    assert caught.value.reason.startswith(f"{LIVE_URL} (liveness) did not answer 2xx within")
    assert "HTTP 500: unhealthy" in caught.value.reason
    assert "listening on :8000" in caught.value.logs
    assert READY_URL not in readiness.urls  # liveness comes first
    assert fake.running(TARGET.container("blue"))
    assert not fake.running(TARGET.container("green"))
    assert backend_on(fake.files[CONF], 80) == "notes-production-blue"
    last = fake.history()[-1]
    assert (last["outcome"], last["step"]) == ("failed", "health")


def test_the_plan_says_what_proves_an_image_without_healthcheck_alive(
    make_deployer: MakeDeployer,
) -> None:
    plan = make_deployer(live_blue(healthcheck=False).executor(), overrides=QUICK).plan_deploy(
        IMAGE
    )

    assert kinds(plan.steps) == ["healthy", "live", "ready", "watch", "drained"]
    assert f"the image has no HEALTHCHECK: liveness is gangway's probe of {LIVE_URL}" in (
        plan.notes
    )
    lines = plan.lines()
    assert (
        f"# wait until {LIVE_URL} answers 2xx (liveness, every 0.05s) (at most 0.25s, "
        "request_timeout_s 5)" in lines
    )


def test_with_a_healthcheck_the_plan_says_both_must_pass(make_deployer: MakeDeployer) -> None:
    plan = make_deployer(live_blue(healthcheck=True).executor(), overrides=QUICK).plan_deploy(IMAGE)

    assert kinds(plan.steps) == ["healthy", "live", "ready", "watch", "drained"]
    assert f"liveness: the image's HEALTHCHECK and {LIVE_URL} must both pass" in plan.notes


@pytest.mark.parametrize("healthcheck", [False, True], ids=["no-healthcheck", "healthcheck"])
def test_an_empty_health_path_relies_on_the_image_alone(
    make_deployer: MakeDeployer, readiness: FakeReadiness, healthcheck: bool
) -> None:
    overrides = {**QUICK, "environments.production.health.path": ""}
    fake = live_blue(healthcheck=healthcheck)
    deployer = make_deployer(fake.executor(), overrides=overrides)

    plan = deployer.plan_deploy(IMAGE)
    deployer.deploy(IMAGE)

    assert kinds(plan.steps) == ["healthy", "ready", "watch", "drained"]
    [watch] = [s for s in plan.steps if isinstance(s, Wait) and s.kind == "watch"]
    assert watch.url == ""
    assert "liveness_failures" not in watch.thresholds
    assert readiness.urls == [READY_URL]
    # nothing probes the preview route after the switch: it is cleared as before
    assert backend_on(fake.files[CONF], 81) is None
    silent = 'the image has no HEALTHCHECK and health.path = "": nothing checks'
    assert any(note.startswith(silent) for note in plan.notes) is not healthcheck


def test_liveness_failing_in_the_watch_switches_back(
    make_deployer: MakeDeployer, readiness: FakeReadiness
) -> None:
    overrides = {**QUICK, "environments.production.watch.window": "5s"}
    fake = live_blue(healthcheck=False)
    # alive for the proof, then dead once live
    readiness.answers[LIVE_URL] = [OK, FAILING]
    executor = fake.executor()

    with pytest.raises(DeployFailed) as caught:
        make_deployer(executor, overrides=overrides).deploy(IMAGE)

    assert caught.value.step == "watch"
    assert caught.value.reason.startswith(f"{LIVE_URL} (liveness) failed 3 checks in a row")
    assert readiness.urls.count(LIVE_URL) == 4  # the proof, then three in the watch
    assert backend_on(fake.files[CONF], 80) == "notes-production-blue"
    assert backend_on(fake.files[CONF], 81) is None
    assert fake.running(TARGET.container("blue"))
    assert fake.history()[-1]["outcome"] == "rolled_back"


def test_the_watch_tolerates_a_liveness_check_lost_now_and_then() -> None:
    answers = [OK, FAILING, OK, FAILING, FAILING, OK]
    readiness = FakeReadiness(answers={LIVE_URL: answers})
    executor = RecordingExecutor(lambda _command: Result(0, "200\n" * 30, ""))
    pollers = Pollers(executor, RecordingExecutor(), Progress(quiet=True), readiness,
                      sleep=lambda _s: None)  # fmt: skip
    watch = Wait(
        "watch", "green", "watch", "watch", timeout=0.05, interval=0.001,
        probe=docker.read_status_log(TARGET, status_log("green")), url=LIVE_URL,
        thresholds={"min_requests": 20, "max_error_rate": 0.05, "liveness_interval_s": 0,
                    "liveness_failures": 3, "request_timeout_s": 1},
    )  # fmt: skip

    pollers.wait(watch)  # never three in a row

    assert readiness.urls.count(LIVE_URL) >= 6
