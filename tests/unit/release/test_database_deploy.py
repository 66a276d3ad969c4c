"""The deployer's database part against a fake host: pending migrations, the guard,
the backup before a migration, restore after a non-transactional failure, the accessory."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from gangway.commands.docker import Command
from gangway.config import load_config
from gangway.errors import ConfigError, DeployFailed
from gangway.execute import RecordingExecutor, Result
from gangway.progress import Progress
from gangway.release.backups import Backup, parse_backups
from gangway.release.deployer import Deployer
from tests.support.fake_host import TARGET, FakeHost

from .conftest import MakeDeployer

REPO = "127.0.0.1:5000/notes"
QUICK = {
    "environments.production.health.deploy_timeout": "250ms",
    "environments.production.health.interval": "50ms",
    "environments.production.watch.window": "1ms",
}
ACCESSORY = {**QUICK, "environments.production.database.kind": "accessory",
             "environments.production.secrets": []}  # fmt: skip
ADD_TAGS = "def upgrade():\n    op.add_column('notes', sa.Column('tags', sa.Text()))\n"
DROP_BODY = "def upgrade():\n    op.drop_column('notes', 'body')\n"


def live_blue(version: str = "1.0.0") -> FakeHost:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", version)
    fake.images.add(f"{REPO}:2.0.0")
    return fake


def run_purposes(deployer: Deployer) -> list[str]:
    """What the deployer changed on the host, in order (queries left out)."""
    assert isinstance(deployer.executor, RecordingExecutor)
    return [c.purpose for c in deployer.executor.commands if not c.query]


def commands(deployer: Deployer) -> list[Command]:
    assert isinstance(deployer.executor, RecordingExecutor)
    return deployer.executor.commands


def test_no_pending_migration_means_no_backup_and_no_migration(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    stream = io.StringIO()
    deployer = make_deployer(fake.executor(), overrides=QUICK, progress=Progress(stream))

    deployer.deploy(f"{REPO}:2.0.0")

    assert fake.migrations_run == 0
    assert fake.backups == {}
    assert "2.0.0 brings no new migration (database at an empty schema); no backup needed" in (
        stream.getvalue()
    )
    assert fake.history()[-1]["outcome"] == "succeeded"


def test_pending_migration_is_backed_up_then_migrated_then_started(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.pending = [{"revision": "0002", "description": "add tags", "source": ADD_TAGS}]
    stream = io.StringIO()
    deployer = make_deployer(fake.executor(), overrides=QUICK, progress=Progress(stream))

    deployer.deploy(f"{REPO}:2.0.0")

    done = run_purposes(deployer)
    backup = next(i for i, p in enumerate(done) if p.startswith("back up the database"))
    assert done[backup - 1] == "create volume notes-production-backups"
    assert done[backup + 1] == "run `app migrate` in 2.0.0"
    assert done[backup + 2] == "start green (2.0.0)"
    [(name, meta)] = fake.backups.items()
    assert name.endswith("-2.0.0")
    assert '"reason": "before migrating to 2.0.0"' in meta
    assert "migrate: 1 pending: 0002 (add tags)" in stream.getvalue()
    assert f"backup: {name} (2.0 KiB, sha256 cdcdcdcdcdcd)" in stream.getvalue()


def test_destructive_migration_is_refused_before_anything_changes(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.pending = [{"revision": "0002", "path": "0002_drop.py", "source": DROP_BODY}]
    deployer = make_deployer(fake.executor(), overrides=QUICK)

    with pytest.raises(DeployFailed) as caught:
        deployer.deploy(f"{REPO}:2.0.0")

    assert caught.value.step == "guard"
    assert "0002_drop.py:2: drop_column('notes', 'body') drops column" in caught.value.reason
    assert "expand/contract" in caught.value.hint
    assert "--allow-destructive" in caught.value.hint
    assert run_purposes(deployer) == [
        "take the deploy lock notes-production-lock",
        "list the migrations 2.0.0 would apply",
        "append the release to the history",
        "remove notes-production-lock",
    ]
    assert [(r["outcome"], r["step"]) for r in fake.history()] == [("failed", "guard")]
    assert fake.backups == {}


def test_destructive_migration_goes_through_when_allowed(make_deployer: MakeDeployer) -> None:
    fake = live_blue()
    fake.pending = [{"revision": "0002", "path": "0002_drop.py", "source": DROP_BODY}]
    stream = io.StringIO()
    deployer = make_deployer(fake.executor(), overrides=QUICK, progress=Progress(stream))

    deployer.deploy(f"{REPO}:2.0.0", allow_destructive=True)

    assert fake.migrations_run == 1
    assert len(fake.backups) == 1
    assert "migrate: warning: destructive, allowed: 0002_drop.py:2:" in stream.getvalue()


def test_non_transactional_failed_migration_is_restored_from_its_backup(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.pending = [{"revision": "0002", "source": ADD_TAGS}]
    fake.migration = Result(1, "", "error: migration failed: boom")
    overrides = {**QUICK, "environments.production.migrations.transactional": False}
    deployer = make_deployer(fake.executor(), overrides=overrides)

    with pytest.raises(DeployFailed) as caught:
        deployer.deploy(f"{REPO}:2.0.0")

    [name] = fake.backups
    assert fake.restored == [name]
    assert caught.value.step == "migrate"
    assert caught.value.reason == "migration failed: boom"
    assert f"the database was restored from {name}" in caught.value.hint
    assert fake.running("notes-production-blue")
    assert "notes-production-green" not in fake.containers
    assert (fake.history()[-1]["outcome"], fake.history()[-1]["step"]) == ("failed", "migrate")


def test_pending_command_that_fails_stops_the_deploy_and_says_how_to_opt_out(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.failures[("docker", "run", "--rm")] = Result(2, "", "usage: app migrate [-h]")
    deployer = make_deployer(fake.executor(), overrides=QUICK)

    with pytest.raises(DeployFailed) as caught:
        deployer.deploy(f"{REPO}:2.0.0")

    assert caught.value.step == "migrate"
    assert "could not list the pending migrations of 2.0.0" in caught.value.reason
    assert "set it to [] to back up and migrate on every deploy" in caught.value.hint
    assert fake.backups == {}
    assert (fake.history()[-1]["outcome"], fake.history()[-1]["step"]) == ("failed", "migrate")


def test_without_a_pending_command_every_deploy_backs_up_and_migrates(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    overrides = {**QUICK, "environments.production.migrations.pending": []}
    deployer = make_deployer(fake.executor(), overrides=overrides)

    deployer.deploy(f"{REPO}:2.0.0")

    assert len(fake.backups) == 1
    assert fake.migrations_run == 1


def test_accessory_is_started_once_and_the_app_gets_its_url_as_a_file(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost()
    fake.images.update({f"{REPO}:1.0.0", f"{REPO}:2.0.0"})
    deployer = make_deployer(fake.executor(), overrides=ACCESSORY)

    deployer.deploy(f"{REPO}:1.0.0")

    done = run_purposes(deployer)
    assert done[1:7] == [
        "create network notes-production",
        "create volume notes-production-db-secrets",
        "create volume notes-production-db-data",
        "generate the database password in notes-production-db-secrets (kept on the host)",
        "start the database notes-production-db",
        "create volume notes-production-state",
    ]
    assert fake.running("notes-production-db")
    run_app = next(c for c in commands(deployer) if c.purpose == "start blue (1.0.0)")
    assert "DATABASE_URL_FILE=/run/secrets/gangway-db/database_url" in run_app.argv
    assert "notes-production-db-secrets:/run/secrets/gangway-db:ro" in run_app.argv
    assert "DATABASE_URL" not in run_app.argv

    again = make_deployer(fake.executor(), overrides=ACCESSORY)
    again.deploy(f"{REPO}:2.0.0")
    assert not any("database" in p for p in run_purposes(again) if "back up" not in p)
    assert again.status().to_dict()["database"] == {
        "kind": "accessory",
        "container": "notes-production-db",
        "running": True,
        "backup_volume": "notes-production-backups",
    }


def test_a_stopped_accessory_is_started_and_waited_for(make_deployer: MakeDeployer) -> None:
    fake = live_blue()
    fake.add("notes-production-db", TARGET.labels("db"), running=False)
    deployer = make_deployer(fake.executor(), overrides=ACCESSORY)

    deployer.deploy(f"{REPO}:2.0.0")

    assert "start notes-production-db" in run_purposes(deployer)
    assert fake.running("notes-production-db")


def test_accessory_with_a_database_url_secret_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.toml"
    path.write_text(
        '[app]\nname = "notes"\n'
        "[environments.staging]\nport = 8080\npreview_port = 8180\n"
        '[environments.production]\nport = 8081\npreview_port = 8181\nsecrets = ["DATABASE_URL"]\n'
        '[environments.production.database]\nkind = "accessory"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "environments.production" in str(caught.value)
    assert "remove DATABASE_URL from secrets" in str(caught.value)


# -- backups ------------------------------------------------------------------------------


def test_parse_backups_reads_size_checksum_and_metadata_and_tolerates_damage() -> None:
    text = (
        'b1\t2048\tabc\t{"created_at": "2025-03-01T10:00:00+00:00", "version": "v1", '
        '"environment": "production", "reason": "on demand"}\n'
        "b2\t\t\tnot json\n"
        "\n"
    )
    assert parse_backups(text) == [
        Backup("b1", 2048, "abc", "2025-03-01T10:00:00+00:00", "production", "v1", "on demand"),
        Backup("b2", 0, ""),
    ]


def test_restore_defaults_to_the_newest_and_verifies_it_first(
    make_deployer: MakeDeployer,
) -> None:
    fake = live_blue()
    fake.volumes.add("notes-production-backups")
    fake.backups = {"20250301T100000Z-v1": "{}", "20250302T100000Z-v2": "{}"}
    deployer = make_deployer(fake.executor())

    restored = deployer.backups.restore()

    assert restored.name == "20250302T100000Z-v2"
    assert fake.restored == ["20250302T100000Z-v2"]
    kinds = [c.purpose for c in commands(deployer)]
    assert kinds.index("verify the checksum of 20250302T100000Z-v2") < kinds.index(
        "restore 20250302T100000Z-v2 into the database (one transaction)"
    )


def test_restore_of_an_unknown_backup_lists_the_newest(make_deployer: MakeDeployer) -> None:
    fake = live_blue()
    fake.volumes.add("notes-production-backups")
    fake.backups = {"20250301T100000Z-v1": "{}"}
    deployer = make_deployer(fake.executor())

    with pytest.raises(DeployFailed) as caught:
        deployer.backups.restore("nope")

    assert caught.value.step == "restore"
    assert "no backup 'nope'" in caught.value.reason
    assert "20250301T100000Z-v1" in caught.value.hint
    assert fake.restored == []


def test_restore_without_backups_says_so(make_deployer: MakeDeployer) -> None:
    deployer = make_deployer(live_blue().executor())

    with pytest.raises(DeployFailed, match="there are no backups in volume"):
        deployer.backups.restore()
