"""The Deployer against a recording executor: lock, rollback choice, deploy and back-out."""

from __future__ import annotations

import io
import json
import os
import socket
from datetime import UTC, datetime

import pytest

from gangway.commands import docker
from gangway.commands.docker import Command
from gangway.config import EnvironmentConfig
from gangway.errors import CommandFailed, DeployFailed, HealthCheckFailed, LockHeld
from gangway.execute import RecordingExecutor, Result
from gangway.health import Probe
from gangway.progress import Progress
from gangway.release.plan import version_of
from gangway.release.preview import preview_host
from gangway.release.state import Outcome, ReleaseRecord
from tests.support.fake_host import IMAGE_ID, TARGET, FakeHost, backend_on

from .conftest import FakeReadiness, MakeDeployer

REPO = "127.0.0.1:5000/notes"
LOCK = "notes-production-lock"
CREATE = "def upgrade():\n    op.create_table('notes')\n"
QUICK = {
    "environments.production.health.deploy_timeout": "250ms",
    "environments.production.health.interval": "50ms",
    "environments.production.watch.window": "1ms",
}


def record(
    version: str, outcome: Outcome = "succeeded", color: str = "blue", *, pulled: bool = False
) -> ReleaseRecord:
    return ReleaseRecord(
        action="deploy",
        version=version,
        image=f"{REPO}:{version}",
        image_id=IMAGE_ID,
        color=color,
        outcome=outcome,
        who="bob",
        host="ci",
        started_at="2025-03-01T10:00:00+00:00",
        duration_s=20.0,
        pulled=pulled,
    )


def lock_host(holder: str, since: str, host: str = "ci") -> FakeHost:
    fake = FakeHost().bootstrapped()
    fake.add(LOCK, TARGET.labels("lock", holder=holder, host=host, since=since), running=False)
    return fake


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def purposes(executor: RecordingExecutor, *, queries: bool = False) -> list[str]:
    return [c.purpose for c in executor.commands if queries or not c.query]


def router_writes(executor: RecordingExecutor) -> list[str]:
    return [c.stdin or "" for c in executor.commands if c.purpose.startswith("route ")]


@pytest.fixture
def ready_urls(readiness: FakeReadiness) -> list[str]:
    """The URLs the (fake) readiness probe was asked about."""
    return readiness.urls


# -- the lock ---------------------------------------------------------------------------


def test_fresh_lock_of_another_deploy_raises_lock_held_with_its_holder(
    make_deployer: MakeDeployer,
) -> None:
    fake = lock_host("bob@ci:4242:1", now())
    executor = fake.executor()

    with pytest.raises(LockHeld) as caught:
        make_deployer(executor).lock.acquire()

    assert caught.value.holder == "bob@ci:4242:1"
    assert caught.value.exit_code == 3
    assert "production is locked by bob@ci:4242:1" in str(caught.value)
    assert LOCK in fake.containers
    assert "remove notes-production-lock" not in purposes(executor)


def test_lock_conflict_is_read_from_dockers_error_text(make_deployer: MakeDeployer) -> None:
    holder = "bob@ci:1:2"
    inspect = json.dumps([{
        "Name": "/" + LOCK,
        "State": {"Running": False, "Status": "created", "ExitCode": 0},
        "Config": {"Labels": TARGET.labels("lock", holder=holder, since=now())},
    }])  # fmt: skip

    def respond(command: Command) -> Result:
        if command.argv[1] == "create":
            return Result(
                1, "", 'Error response from daemon: Conflict. The container name "/'
                f'{LOCK}" is already in use by container "9d1e".'
            )  # fmt: skip
        if command.argv[1:3] == ("container", "inspect"):
            return Result(0, inspect, "")
        raise AssertionError(command.argv)

    with pytest.raises(LockHeld) as caught:
        make_deployer(RecordingExecutor(respond)).lock.acquire()

    assert caught.value.holder == holder


def test_stale_lock_is_taken_over_with_a_warning(make_deployer: MakeDeployer) -> None:
    fake = lock_host("bob@ci:4242:1", "2020-01-01T00:00:00+00:00")
    executor = fake.executor()
    output = io.StringIO()
    deployer = make_deployer(executor, progress=Progress(output))

    deployer.lock.acquire()

    assert purposes(executor) == [
        "take the deploy lock notes-production-lock",
        "remove notes-production-lock",
        "take the deploy lock notes-production-lock",
    ]
    assert fake.containers[LOCK]["Config"]["Labels"]["dev.gangway.holder"].startswith("ana@")
    assert "warning: taking over the lock of bob@ci:4242:1" in output.getvalue()


def test_fresh_lock_of_a_dead_process_on_this_host_is_taken_over(
    make_deployer: MakeDeployer,
) -> None:
    gone = 2**22 + 12345  # above pid_max's default: no such process
    fake = lock_host(f"bob@{socket.gethostname()}:{gone}:1", now(), host=socket.gethostname())
    output = io.StringIO()

    make_deployer(fake.executor(), progress=Progress(output)).lock.acquire()

    assert f"its process {gone} on this host is gone" in output.getvalue()
    assert fake.containers[LOCK]["Config"]["Labels"]["dev.gangway.holder"].startswith("ana@")


def test_fresh_lock_of_a_live_process_on_this_host_is_held(make_deployer: MakeDeployer) -> None:
    fake = lock_host(f"bob@{socket.gethostname()}:{os.getpid()}:1", now(),
                     host=socket.gethostname())  # fmt: skip

    with pytest.raises(LockHeld):
        make_deployer(fake.executor()).lock.acquire()


def test_lock_failing_for_another_reason_is_a_command_failure(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost()
    fake.failures[("docker", "create")] = Result(
        1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    )

    with pytest.raises(CommandFailed, match="Cannot connect to the Docker daemon"):
        make_deployer(fake.executor()).lock.acquire()


def test_release_lock_removes_only_our_own_lock(make_deployer: MakeDeployer) -> None:
    fake = FakeHost()
    deployer = make_deployer(fake.executor())
    deployer.lock.acquire()

    assert deployer.lock.release()
    assert LOCK not in fake.containers
    assert not deployer.lock.release()  # nothing left to release


def test_release_lock_leaves_another_holders_lock_unless_forced(
    make_deployer: MakeDeployer,
) -> None:
    fake = lock_host("bob@ci:4242:1", now())
    deployer = make_deployer(fake.executor())

    assert not deployer.lock.release()
    assert LOCK in fake.containers
    assert deployer.lock.release(force=True)
    assert LOCK not in fake.containers


def test_lock_info_reports_holder_host_and_since(make_deployer: MakeDeployer) -> None:
    fake = lock_host("bob@ci:4242:1", "2025-03-01T10:00:00+00:00")

    info = make_deployer(fake.executor()).lock_info()

    assert info is not None
    assert (info.label("holder"), info.label("host"), info.label("since")) == (
        "bob@ci:4242:1",
        "ci",
        "2025-03-01T10:00:00+00:00",
    )
    assert make_deployer(FakeHost().executor()).lock_info() is None


# -- versions, rollback targets and the preview host -------------------------------------


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("notes:1.2.3", "1.2.3"),
        ("127.0.0.1:5000/notes:1.2.3", "1.2.3"),
        ("ghcr.io/org/notes:2025.03.01-abc123", "2025.03.01-abc123"),
        ("notes@sha256:" + "0123456789abcdef" * 4, "0123456789ab"),
        ("127.0.0.1:5000/notes@sha256:" + "fedcba9876543210" * 4, "fedcba987654"),
        ("notes", "latest"),
        ("127.0.0.1:5000/notes", "latest"),
    ],
)
def test_version_of_an_image_is_its_tag_else_its_short_digest(image: str, version: str) -> None:
    assert version_of(image) == version


def test_version_of_a_tag_pinned_by_digest_is_the_tag() -> None:
    assert version_of(f"{REPO}:1.2.3@sha256:" + "ab" * 32) == "1.2.3"


def environment(docker_host: str, address: str = "127.0.0.1") -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {"docker_host": docker_host, "address": address, "port": 8081, "preview_port": 8181}
    )


@pytest.mark.parametrize(
    ("docker_host", "address", "host"),
    [
        ("", "127.0.0.1", "127.0.0.1"),
        ("unix:///var/run/docker.sock", "127.0.0.1", "127.0.0.1"),
        ("ssh://deploy@prod.example.com", "127.0.0.1", "prod.example.com"),
        ("ssh://deploy@prod.example.com:2222", "127.0.0.1", "prod.example.com"),
        ("ssh://prod.example.com", "127.0.0.1", "prod.example.com"),
        ("tcp://1.2.3.4:2376", "127.0.0.1", "1.2.3.4"),
        ("tcp://1.2.3.4:2376", "0.0.0.0", "1.2.3.4"),
        ("ssh://deploy@localhost", "127.0.0.1", "127.0.0.1"),
        ("ssh://deploy@prod.example.com", "10.0.0.5", "10.0.0.5"),
        ("ssh://deploy@[2001:db8::1]", "127.0.0.1", "[2001:db8::1]"),
        ("", "0.0.0.0", "127.0.0.1"),
        ("", "::", "127.0.0.1"),
        ("", "::1", "[::1]"),
        ("", "192.168.1.20", "192.168.1.20"),
    ],
)
def test_preview_host_is_the_bind_address_or_the_remote_engines_host(
    docker_host: str, address: str, host: str
) -> None:
    assert preview_host(environment(docker_host, address)) == host


def test_preview_host_of_an_ipv6_engine_with_a_port_drops_the_port() -> None:
    assert preview_host(environment("ssh://deploy@[2001:db8::1]:2222")) == "[2001:db8::1]"


def live_blue_host(live_version: str = "2.0.0") -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", live_version)
    return fake


def test_rollback_target_is_the_previous_successful_release(make_deployer: MakeDeployer) -> None:
    fake = live_blue_host()
    fake.add_history(record("1.0.0"), record("1.5.0", "failed"), record("2.0.0"))
    deployer = make_deployer(fake.executor())

    state = deployer.read_state()

    assert deployer.rollback_target(state, None).version == "1.0.0"
    assert deployer.rollback_target(state, "1.0.0").image == f"{REPO}:1.0.0"


def test_rollback_to_the_live_version_says_it_is_already_live(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue_host()
    fake.add_history(record("1.0.0"), record("2.0.0"))
    deployer = make_deployer(fake.executor())

    with pytest.raises(DeployFailed, match=r"2\.0\.0 is already live"):
        deployer.rollback_target(deployer.read_state(), "2.0.0")


def test_rollback_to_an_unknown_version_lists_the_available_ones(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue_host()
    fake.images.update({f"{REPO}:1.0.0", f"{REPO}:1.1.0"})
    fake.add_history(
        record("0.9.0"), record("1.0.0"), record("1.1.0"), record("1.5.0", "failed"),
        record("2.0.0"),
    )  # fmt: skip
    deployer = make_deployer(fake.executor())
    state = deployer.read_state()

    with pytest.raises(DeployFailed) as caught:
        deployer.rollback_target(state, "9.9.9")

    assert caught.value.step == "rollback"
    assert "no successful release '9.9.9'" in caught.value.reason
    # Newest first; 0.9.0 has neither a container nor an image left, 1.5.0 failed.
    assert caught.value.hint == "available: 1.1.0, 1.0.0"


def test_rollback_with_no_earlier_release_says_so(make_deployer: MakeDeployer) -> None:
    fake = live_blue_host()
    fake.add_history(record("2.0.0"))
    deployer = make_deployer(fake.executor())

    with pytest.raises(DeployFailed, match="no earlier successful release"):
        deployer.rollback_target(deployer.read_state(), None)


def test_available_versions_count_a_kept_container_without_its_image(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue_host()
    fake.add_app("green", "1.0.0", running=False)
    fake.images.discard(f"{REPO}:1.0.0")
    fake.add_history(record("1.0.0", color="green"), record("2.0.0"))
    deployer = make_deployer(fake.executor())

    assert deployer.available_versions(deployer.read_state()) == ["1.0.0"]


# -- reading the host --------------------------------------------------------------------


def test_read_state_of_a_fresh_host_reads_no_files(make_deployer: MakeDeployer) -> None:
    executor = FakeHost().executor()

    state = make_deployer(executor).read_state()

    assert state.containers == ()
    assert not state.network
    assert state.routing.live is None
    assert all(c.query for c in executor.commands)
    assert not any(c.argv[1] == "exec" for c in executor.commands)


def test_read_state_reads_routing_and_history_through_the_router(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue_host()
    fake.add_history(record("1.0.0"), record("2.0.0"))

    state = make_deployer(fake.executor()).read_state()

    assert state.network
    assert state.routing.live == "blue"
    assert state.live is not None
    assert state.live.version == "2.0.0"
    assert [r.version for r in state.history] == ["1.0.0", "2.0.0"]


# -- deploy --------------------------------------------------------------------------------


def test_first_deploy_bootstraps_and_goes_live_on_blue(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = FakeHost()
    fake.images.add(f"{REPO}:1.0.0")
    fake.pending = [{"revision": "0001", "path": "0001_create_notes.py", "source": CREATE}]
    executor = fake.executor()

    result = make_deployer(executor).deploy(f"{REPO}:1.0.0")

    assert purposes(executor) == [
        "take the deploy lock notes-production-lock",
        "create network notes-production",
        "create volume notes-production-state",
        "write /var/lib/gangway/nginx/router.conf into notes-production-state",
        "write /var/lib/gangway/nginx/proxy.conf into notes-production-state",
        "write /var/lib/gangway/state.json into notes-production-state",
        "start the router notes-production-router",
        "start the proxy notes-production-proxy",
        "list the migrations 1.0.0 would apply",
        "create volume notes-production-backups",
        "back up the database to notes-production-backups (before 1.0.0)",
        "run `app migrate` in 1.0.0",
        "start blue (1.0.0)",
        "route live=none preview=blue",
        "route live=blue preview=none",
        "append the release to the history",
        "remove notes-production-lock",
    ]
    # liveness, then readiness, both through the preview route
    assert ready_urls == ["http://127.0.0.1:8181/health", "http://127.0.0.1:8181/ready"]
    assert result.outcome == "succeeded"
    assert (result.version, result.color, result.image_id) == ("1.0.0", "blue", IMAGE_ID)
    [line] = fake.history()
    assert line["outcome"] == "succeeded"
    assert line["action"] == "deploy"
    assert line["who"] == "ana"
    assert line["previous_version"] == ""
    assert fake.files[docker.STATE_FILE] == '{"live": "blue", "maintenance": false}\n'
    assert backend_on(fake.files[docker.ROUTER_CONFIG], 80) == "notes-production-blue"
    assert fake.running("notes-production-blue")
    assert LOCK not in fake.containers
    assert fake.reloads == 2


def test_deploy_over_live_blue_goes_green_then_drains_and_stops_blue(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("2.0.0")
    fake.add_history(record("1.0.0"), record("2.0.0"))
    executor = fake.executor()

    result = make_deployer(executor, overrides=QUICK).deploy(f"{REPO}:2.1.0")

    assert (result.color, result.previous_version, result.outcome) == (
        "green",
        "2.0.0",
        "succeeded",
    )
    changes = purposes(executor)
    # the preview route stays on green through the watch: its liveness is probed there
    assert changes.index("start green (2.1.0)") < changes.index("route live=green preview=green")
    assert changes.index("route live=green preview=green") < changes.index(
        "stop notes-production-blue (grace 30s)"
    )
    assert "read the router's traffic to blue" in purposes(executor, queries=True)
    assert fake.running("notes-production-green")
    assert not fake.running("notes-production-blue")
    assert "notes-production-blue" in fake.containers  # kept for rollback
    assert backend_on(fake.files[docker.ROUTER_CONFIG], 80) == "notes-production-green"
    assert fake.history()[-1]["version"] == "2.1.0"


def test_deploy_prunes_images_beyond_retain_but_not_one_in_use(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("0.4.0")
    fake.add_app("green", "0.1.0", running=False)  # kept container, still in use
    fake.images.update(f"{REPO}:0.{n}.0" for n in range(1, 5))
    fake.add_history(*(record(f"0.{n}.0", pulled=True) for n in range(1, 5)))
    executor = fake.executor()

    make_deployer(executor, overrides=QUICK).deploy(f"{REPO}:0.5.0")

    removed = [c.argv[-1] for c in executor.commands if c.argv[1:3] == ("image", "rm")]
    # retain = 3: 0.5.0 (new), 0.4.0 and 0.3.0 stay; 0.1.0's kept container was replaced
    # by 0.5.0 (same color), so nothing holds its image any more.
    assert removed == [f"{REPO}:0.2.0", f"{REPO}:0.1.0"]


def test_failed_health_keeps_live_color_and_backs_out(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("2.0.0")
    fake.add_history(record("2.0.0"))
    fake.health["notes-production-green"] = "starting"
    executor = fake.executor()

    with pytest.raises(HealthCheckFailed) as caught:
        make_deployer(executor, overrides=QUICK).deploy(f"{REPO}:2.1.0")

    assert caught.value.step == "health"
    reason = caught.value.reason
    assert "notes-production-green" in reason
    assert "starting" in reason
    assert "0.25s" in reason
    assert "listening on :8000" in caught.value.logs
    changes = purposes(executor)
    failed_at = changes.index("start green (2.1.0)") + 1
    # the undos, latest first: the routes put back, then the new color stopped
    assert changes[failed_at:] == [
        "route live=blue preview=green",
        "route live=blue preview=none",
        "stop notes-production-green (grace 10s)",
        "append the release to the history",
        "remove notes-production-lock",
    ]
    [_preview, restored] = router_writes(executor)
    assert backend_on(restored, 80) == "notes-production-blue"
    assert "notes-production-green" not in restored
    assert ready_urls == []
    assert fake.files[docker.STATE_FILE] == '{"live": "blue", "maintenance": false}\n'
    assert fake.running("notes-production-blue")
    assert not fake.running("notes-production-green")
    last = fake.history()[-1]
    assert (last["outcome"], last["version"], last["color"]) == ("failed", "2.1.0", "green")
    assert (last["step"], last["previous_version"]) == ("health", "2.0.0")
    assert LOCK not in fake.containers


def test_failed_readiness_clears_the_preview_route(
    make_deployer: MakeDeployer, readiness: FakeReadiness
) -> None:
    readiness.answers["http://127.0.0.1:8181/ready"] = Probe(False, "HTTP 503: db down", 3, 0.25)
    fake = live_blue_host("2.0.0")
    executor = fake.executor()

    with pytest.raises(HealthCheckFailed, match="HTTP 503: db down"):
        make_deployer(executor, overrides=QUICK).deploy(f"{REPO}:2.1.0")

    preview, restored = router_writes(executor)
    assert "set $backend notes-production-green;" in preview
    assert "notes-production-green" not in restored
    assert "notes-production-green" not in fake.files[docker.ROUTER_CONFIG]
    assert backend_on(fake.files[docker.ROUTER_CONFIG], 80) == "notes-production-blue"
    assert fake.history()[-1]["step"] == "ready"
    assert LOCK not in fake.containers


def test_failed_migration_starts_nothing_and_reports_the_docker_failure(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("2.0.0")
    fake.pending = [{"revision": "0042", "source": "def upgrade():\n    op.add_column('n')\n"}]
    fake.migration = Result(1, "", "error: migration failed: column already exists")
    executor = fake.executor()

    with pytest.raises(DeployFailed) as caught:
        make_deployer(executor, overrides=QUICK).deploy(f"{REPO}:2.1.0")

    assert not isinstance(caught.value, HealthCheckFailed)
    assert caught.value.step == "migrate"
    assert "column already exists" in caught.value.reason
    assert "the database is unchanged" in caught.value.hint
    assert isinstance(caught.value.__cause__, CommandFailed)
    assert "start green (2.1.0)" not in purposes(executor)
    assert fake.running("notes-production-blue")
    assert fake.restored == []  # transactional: nothing to restore
    last = fake.history()[-1]
    assert (last["outcome"], last["step"]) == ("failed", "migrate")
    assert last["reason"] == "migration failed: column already exists"  # the step apart
    assert LOCK not in fake.containers


def test_deploy_while_locked_changes_nothing_and_keeps_the_other_lock(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = lock_host("bob@ci:4242:1", now())
    executor = fake.executor()

    with pytest.raises(LockHeld):
        make_deployer(executor).deploy(f"{REPO}:2.1.0")

    assert purposes(executor) == ["take the deploy lock notes-production-lock"]
    assert LOCK in fake.containers


# -- rollback ------------------------------------------------------------------------------


def test_rollback_restarts_the_kept_container_and_switches_back(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = FakeHost().bootstrapped(live="green")
    fake.add_app("green", "2.0.0")
    fake.add_app("blue", "1.0.0", running=False)
    fake.add_history(record("1.0.0", color="blue"), record("2.0.0", color="green"))
    executor = fake.executor()

    result = make_deployer(executor, overrides=QUICK).rollback()

    assert (result.action, result.version, result.color) == ("rollback", "1.0.0", "blue")
    changes = purposes(executor)
    assert "start notes-production-blue" in changes
    assert not any(p.startswith("start blue (") for p in changes)  # reused, not recreated
    assert "stop notes-production-green (grace 30s)" in changes
    assert fake.files[docker.STATE_FILE] == '{"live": "blue", "maintenance": false}\n'
    assert fake.history()[-1]["previous_version"] == "2.0.0"
    assert LOCK not in fake.containers


def test_rollback_to_an_unknown_version_fails_and_releases_the_lock(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host()
    fake.add_history(record("2.0.0"))

    with pytest.raises(DeployFailed, match=r"no successful release '0\.0\.1'"):
        make_deployer(fake.executor()).rollback(to="0.0.1")

    assert LOCK not in fake.containers
    assert fake.files[docker.STATE_FILE] == '{"live": "blue", "maintenance": false}\n'


WATCHED = {**QUICK, "environments.production.watch.window": "300ms"}
GREEN_LOG = "/var/lib/gangway/logs/green.log"


def test_error_burst_in_the_watch_window_sends_traffic_back_at_once(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("2.0.0")
    fake.add_history(record("2.0.0"))
    fake.served[GREEN_LOG] = "200\n" * 10 + "500\n" * 30
    executor = fake.executor()

    with pytest.raises(DeployFailed) as caught:
        make_deployer(executor, overrides=WATCHED).deploy(f"{REPO}:2.1.0")

    assert caught.value.step == "watch"
    assert "30 of 40 requests with 5xx (75% > max_error_rate 5%)" in caught.value.reason
    assert backend_on(fake.files[docker.ROUTER_CONFIG], 80) == "notes-production-blue"
    assert fake.files[docker.STATE_FILE] == '{"live": "blue", "maintenance": false}\n'
    assert fake.running("notes-production-blue")  # it never stopped
    assert not fake.running("notes-production-green")
    last = fake.history()[-1]
    assert (last["version"], last["outcome"], last["step"]) == ("2.1.0", "rolled_back", "watch")
    assert LOCK not in fake.containers


def test_errors_below_min_requests_are_not_judged_and_the_release_stays(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("2.0.0")
    fake.served[GREEN_LOG] = "500\n" * 5  # 5 < min_requests (20)
    output = io.StringIO()

    make_deployer(fake.executor(), overrides=WATCHED, progress=Progress(output)).deploy(
        f"{REPO}:2.1.0"
    )

    assert backend_on(fake.files[docker.ROUTER_CONFIG], 80) == "notes-production-green"
    assert "green served 5 requests, 5 5xx (too few to judge)" in output.getvalue()


def test_a_healthy_watch_keeps_the_release_and_retires_the_old_color(
    make_deployer: MakeDeployer, ready_urls: list[str]
) -> None:
    fake = live_blue_host("2.0.0")
    fake.served[GREEN_LOG] = "200\n" * 100 + "503\n" * 2  # 2% <= 5%
    output = io.StringIO()

    make_deployer(fake.executor(), overrides=WATCHED, progress=Progress(output)).deploy(
        f"{REPO}:2.1.0"
    )

    text = output.getvalue()
    assert text.index("switch: green (2.1.0) is live") < text.index("green served 102 requests")
    assert "green served 102 requests, 2 5xx (judged)" in text
    assert fake.history()[-1]["outcome"] == "succeeded"
    assert not fake.running("notes-production-blue")
