"""The images a deploy runs: every one follows the environment's pull policy, a missing one
is named by its key with how to get it, and the history says which ones gangway pulled."""

from __future__ import annotations

import json

import pytest

from gangway.errors import DeployFailed
from gangway.execute import RecordingExecutor, Result
from gangway.release.backups import Backups
from gangway.release.state import ImageInfo, ReleaseRecord, parse_image_inspect
from tests.support.fake_host import TARGET, FakeHost

from .conftest import MakeDeployer

REPO = "127.0.0.1:5000/notes"
IMAGE = f"{REPO}:2.0.0"
PROXY_IMAGE = "nginx:1.27-alpine"
DB_IMAGE = "postgres:16-alpine"
QUICK = {
    "environments.production.health.deploy_timeout": "250ms",
    "environments.production.health.interval": "50ms",
    "environments.production.watch.window": "1ms",
}
ACCESSORY = {**QUICK, "environments.production.database.kind": "accessory",
             "environments.production.secrets": []}  # fmt: skip
NEVER = {"environments.production.pull": "never"}


def live_blue() -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", "1.0.0")
    return fake


def pulls(argvs: list[tuple[str, ...]]) -> set[str]:
    return {arg for argv in argvs for arg in argv if arg.startswith("--pull=")}


@pytest.mark.parametrize("policy", ["never", "missing", "always"])
def test_every_container_a_first_deploy_runs_follows_the_pull_policy(
    make_deployer: MakeDeployer, policy: str
) -> None:
    fake = FakeHost()
    fake.images.add(IMAGE)
    fake.pending = [{"revision": "0001", "description": "create notes"}]
    executor = fake.executor()
    overrides = {**ACCESSORY, "environments.production.pull": policy}

    make_deployer(executor, overrides=overrides).deploy(IMAGE)

    ran = [c.argv for c in executor.commands]
    # the lock, the seeds, router, proxy, the database's password, the database, the
    # pending list, the backup, the migration, the app: all of them
    assert sum(1 for argv in ran if any(a.startswith("--pull=") for a in argv)) >= 10
    assert pulls(ran) == {f"--pull={policy}"}


def test_backups_follow_the_pull_policy(make_deployer: MakeDeployer) -> None:
    fake = FakeHost().bootstrapped()
    fake.volumes.add(f"{TARGET.prefix}-backups")
    deployer = make_deployer(fake.executor(), overrides={**ACCESSORY, **NEVER})

    deployer.backups.create("2.0.0", "by hand")
    deployer.backups.list()
    deployer.backups.restore()

    assert isinstance(deployer.executor, RecordingExecutor)
    assert pulls([c.argv for c in deployer.executor.commands]) == {"--pull=never"}


def test_a_missing_proxy_image_fails_the_lock_naming_proxy_image_and_how_to_get_it(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost()
    fake.unpullable.add(PROXY_IMAGE)

    with pytest.raises(DeployFailed) as caught:
        make_deployer(fake.executor(), overrides=NEVER).deploy(IMAGE)

    error = caught.value
    assert error.step == "lock"
    assert error.reason.startswith(
        f'proxy.image {PROXY_IMAGE} is not on the host (pull = "never" and the host does not '
        "have it): "
    )
    assert "pull access denied" in error.reason
    assert f"`docker pull {PROXY_IMAGE}` on the host" in error.hint
    assert 'environments.production.pull = "missing"' in error.hint
    assert "local-images.sh" not in error.hint  # not one of this repository's local images
    assert "docker create" not in str(error)


def test_a_local_image_is_said_to_come_from_local_images_sh(make_deployer: MakeDeployer) -> None:
    fake = FakeHost()
    fake.unpullable.add("local/nginx")
    overrides = {**NEVER, "proxy.image": "local/nginx"}

    with pytest.raises(DeployFailed) as caught:
        make_deployer(fake.executor(), overrides=overrides).deploy(IMAGE)

    assert "`docker/local-images.sh` builds it" in caught.value.hint


def test_a_proxy_image_that_cannot_be_pulled_fails_the_bootstrap_with_its_key(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost()
    said = "Unable to find image 'nginx:1.27-alpine' locally\ndocker: Error response from " \
        "daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: i/o timeout."  # fmt: skip
    # the lock was created before the image went away: the router's run is the first to see it
    fake.failures[("docker", "run", "--detach", "--pull=missing", "--name", TARGET.router)] = (
        Result(125, "", said)
    )

    with pytest.raises(DeployFailed) as caught:
        make_deployer(fake.executor(), overrides=QUICK).deploy(IMAGE)

    assert caught.value.step == "image"
    assert caught.value.reason.startswith(
        f'proxy.image {PROXY_IMAGE} is not on the host (pull = "missing" and the host could not '
        "pull it): Error response from daemon"
    )
    assert "check proxy.image and that the host reaches its registry" in caught.value.hint
    assert fake.history() == []  # the router never ran: there is no history to write to


def test_a_missing_database_image_fails_the_accessory_with_its_key_live_unharmed(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.unpullable.add(DB_IMAGE)

    with pytest.raises(DeployFailed) as caught:
        make_deployer(fake.executor(), overrides={**ACCESSORY, **NEVER}).deploy(IMAGE)

    assert caught.value.step == "image"
    assert caught.value.reason.startswith(f"database.image {DB_IMAGE} is not on the host")
    assert f"docker pull {DB_IMAGE}" in caught.value.hint
    assert fake.running(TARGET.container("blue"))
    assert "/var/lib/gangway/nginx/router.conf" not in fake.files  # the routes never changed
    last = fake.history()[-1]
    assert (last["outcome"], last["step"]) == ("failed", "image")
    assert last["reason"].startswith("database.image")


def test_a_missing_release_image_is_named_as_the_image_given(make_deployer: MakeDeployer) -> None:
    fake = live_blue()
    fake.unpullable.add(IMAGE)

    with pytest.raises(DeployFailed) as caught:
        make_deployer(fake.executor(), overrides={**QUICK, **NEVER}).deploy(IMAGE)

    assert caught.value.step == "image"
    assert caught.value.reason.startswith(f"--image {IMAGE} is not on the host")
    assert fake.running(TARGET.container("blue"))


def test_a_missing_database_image_fails_a_backup_by_hand_with_its_key(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost().bootstrapped()
    fake.unpullable.add(DB_IMAGE)
    deployer = make_deployer(fake.executor(), overrides={**ACCESSORY, **NEVER})
    backups: Backups = deployer.backups

    with pytest.raises(DeployFailed) as caught:
        backups.create("2.0.0", "by hand")

    assert caught.value.step == "backup"
    assert caught.value.reason.startswith(f"database.image {DB_IMAGE} is not on the host")


# -- what gangway pulled ------------------------------------------------------------------


@pytest.mark.parametrize("on_host", [True, False], ids=["already-there", "pulled"])
def test_the_record_says_whether_gangway_pulled_the_image(
    make_deployer: MakeDeployer, on_host: bool
) -> None:
    fake = live_blue()
    if on_host:
        fake.images.add(IMAGE)
    deployer = make_deployer(fake.executor(), overrides=QUICK)

    plan = deployer.plan_deploy(IMAGE)
    record = deployer.deploy(IMAGE)

    assert plan.reads[-1].argv == ("docker", "image", "inspect", IMAGE)
    assert plan.pulls_image is not on_host
    assert plan.to_json()["pulls_image"] is not on_host
    assert record.pulled is not on_host
    assert fake.history()[-1]["pulled"] is not on_host
    pulled_note = "the image is not on the host: it is pulled (pull = missing)"
    assert (pulled_note in plan.notes) is not on_host


def test_a_rollback_record_never_says_pulled(make_deployer: MakeDeployer) -> None:
    fake = live_blue()
    fake.add_app("green", "0.9.0", running=False)
    old = ReleaseRecord("deploy", "0.9.0", f"{REPO}:0.9.0", "", "green", "succeeded", "bob",
                        "ci", "2025-03-01T10:00:00+00:00", 1.0, pulled=True)  # fmt: skip
    new = ReleaseRecord("deploy", "1.0.0", f"{REPO}:1.0.0", "", "blue", "succeeded", "bob",
                        "ci", "2025-03-01T11:00:00+00:00", 1.0, pulled=True)  # fmt: skip
    fake.add_history(old, new)

    assert make_deployer(fake.executor()).rollback().pulled is False


@pytest.mark.parametrize(
    ("extra", "pulled"),
    [({}, False), ({"pulled": True}, True), ({"pulled": False}, False), ({"pulled": "yes"}, False)],
    ids=["older-record", "pulled", "not-pulled", "not-a-boolean"],
)
def test_history_records_read_pulled_tolerantly(extra: dict[str, object], pulled: bool) -> None:
    line = {
        "action": "deploy",
        "version": "1",
        "image": "x:1",
        "image_id": "",
        "color": "blue",
        "outcome": "succeeded",
        "who": "a",
        "host": "h",
        "started_at": "",
        "duration_s": 1,
    }
    record = ReleaseRecord.from_json(json.dumps({**line, **extra}))  # fmt: skip
    assert record is not None
    assert record.pulled is pulled


@pytest.mark.parametrize(
    ("ok", "inspect", "info"),
    [
        (False, "[]", ImageInfo(present=False)),
        (True, json.dumps([{"Config": {"Healthcheck": {"Test": ["CMD", "true"]}}}]),
         ImageInfo(present=True, healthcheck=True)),
        (True, json.dumps([{"Config": {"Healthcheck": {"Test": ["NONE"]}}}]),
         ImageInfo(present=True, healthcheck=False)),
        (True, json.dumps([{"Config": {}}]), ImageInfo(present=True, healthcheck=False)),
        (True, json.dumps([{"Config": None}]), ImageInfo(present=True, healthcheck=False)),
        (True, "not json", ImageInfo(present=True)),
    ],
    ids=["absent", "healthcheck", "none", "no-healthcheck", "no-config", "unreadable"],
)  # fmt: skip
def test_image_inspect_says_present_and_healthcheck(
    ok: bool, inspect: str, info: ImageInfo
) -> None:
    assert parse_image_inspect(inspect, ok=ok) == info
