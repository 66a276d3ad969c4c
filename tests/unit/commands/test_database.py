"""The database argv: the accessory, its secrets, backups and restores, asserted whole."""

from __future__ import annotations

import subprocess

import pytest

from gangway.commands import database
from gangway.commands.database import DatabaseTarget
from gangway.commands.docker import Command, Target

TARGET = Target("notes-app", "production")
ACCESSORY = DatabaseTarget(TARGET, "postgres:16-alpine", accessory=True, pull_policy="missing")
EXTERNAL = DatabaseTarget(
    TARGET, "postgres:16-alpine", accessory=False, backup_volume="nightly", pull_policy="never"
)
LABELS = (
    "--label", "dev.gangway.app=notes-app", "--label", "dev.gangway.env=production",
)  # fmt: skip


def test_accessory_names_follow_the_environment_and_the_user_is_an_identifier() -> None:
    assert ACCESSORY.container == "notes-app-production-db"
    assert ACCESSORY.data_volume == "notes-app-production-db-data"
    assert ACCESSORY.secrets_volume == "notes-app-production-db-secrets"
    assert ACCESSORY.backups == "notes-app-production-backups"
    assert EXTERNAL.backups == "nightly"
    assert ACCESSORY.user == "notes_app"


def test_run_database_keeps_data_in_a_volume_and_reads_the_password_from_a_file() -> None:
    assert database.run_database(ACCESSORY).argv == (
        "docker", "run", "--detach", "--pull=missing", "--name", "notes-app-production-db",
        "--network", "notes-app-production", "--restart", "unless-stopped",
        "--stop-signal", "SIGINT",
        *LABELS, "--label", "dev.gangway.role=db",
        "--label", "dev.gangway.image=postgres:16-alpine",
        "--volume", "notes-app-production-db-data:/var/lib/postgresql/data",
        "--volume", "notes-app-production-db-secrets:/run/secrets/gangway-db:ro",
        "--env", "POSTGRES_USER=notes_app", "--env", "POSTGRES_DB=notes_app",
        "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/gangway-db/password",
        "postgres:16-alpine",
    )  # fmt: skip


def test_make_secrets_generates_on_the_host_and_keeps_an_existing_password() -> None:
    command = database.make_secrets(ACCESSORY)
    assert command.argv[:10] == (
        "docker", "run", "--rm", "--pull=missing", "--network=none",
        "--volume", "notes-app-production-db-secrets:/run/secrets/gangway-db",
        "--entrypoint", "sh", "postgres:16-alpine",
    )  # fmt: skip
    script = command.argv[-1]
    assert "if [ ! -s password ]" in script
    assert "/dev/urandom" in script
    assert "postgresql://notes_app:%s@notes-app-production-db:5432/notes_app" in script
    assert command.stdin is None


def test_database_ready_asks_pg_isready_inside_the_container() -> None:
    command = database.database_ready(ACCESSORY)
    assert command.argv == (
        "docker", "exec", "notes-app-production-db", "pg_isready", "--host=127.0.0.1",
        "--username=notes_app", "--dbname=notes_app",
    )  # fmt: skip
    assert command.query


def test_backup_of_the_accessory_mounts_its_url_file_and_reads_metadata_on_stdin() -> None:
    command = database.backup(ACCESSORY, "20250301T100000Z-v2", '{"version": "v2"}', 7)
    assert command.argv[:-1] == (
        "docker", "run", "--rm", "--pull=missing", "--network", "notes-app-production",
        *LABELS, "--label", "dev.gangway.role=task",
        "--volume", "notes-app-production-backups:/backups", "--entrypoint", "sh",
        "--interactive",
        "--volume", "notes-app-production-db-secrets:/run/secrets/gangway-db:ro",
        "postgres:16-alpine", "-c",
    )  # fmt: skip
    script = command.argv[-1]
    assert "pg_dump --format=custom" in script
    assert 'sha256sum "$name.dump" > "$name.dump.sha256"' in script
    assert "tail -n +8" in script  # the newest 7 are kept
    assert command.stdin == '{"version": "v2"}'
    assert not command.query


def test_backup_of_an_external_database_passes_the_url_by_name_only() -> None:
    command = database.backup(EXTERNAL, "n", "{}", 3)
    assert command.argv[17:19] == ("--env", "DATABASE_URL")
    assert "nightly:/backups" in command.argv
    assert not any("postgresql://" in arg and "@" in arg for arg in command.argv[:-1])


@pytest.mark.parametrize("policy", ["never", "missing", "always"])
def test_every_database_container_follows_the_environments_pull_policy(policy: str) -> None:
    db = DatabaseTarget(TARGET, "local/postgres", accessory=True, pull_policy=policy)
    commands = [
        database.make_secrets(db),
        database.run_database(db),
        database.backup(db, "v2", "{}", 3),
        database.list_backups(db),
        database.verify_backup(db, "b1"),
        database.restore(db, "b1"),
    ]
    assert all(f"--pull={policy}" in command.argv for command in commands)
    assert not any(arg.startswith("--pull=") and arg != f"--pull={policy}"
                   for command in commands for arg in command.argv)  # fmt: skip


def test_list_and_verify_read_the_volume_without_a_network() -> None:
    for command in (database.list_backups(ACCESSORY), database.verify_backup(ACCESSORY, "b1")):
        assert command.argv[:12] == (
            "docker", "run", "--rm", "--pull=missing", "--network", "none",
            *LABELS, "--label", "dev.gangway.role=task",
        )  # fmt: skip
        assert "notes-app-production-backups:/backups:ro" in command.argv
        assert command.query
    assert "sha256sum -c" in database.verify_backup(ACCESSORY, "b1").argv[-1]


def test_restore_runs_pg_restore_in_one_transaction_with_the_backup_read_only() -> None:
    command = database.restore(EXTERNAL, "20250301T100000Z-v2")
    assert command.argv[:-1] == (
        "docker", "run", "--rm", "--pull=never", "--network", "notes-app-production",
        *LABELS, "--label", "dev.gangway.role=task",
        "--volume", "nightly:/backups:ro", "--entrypoint", "sh",
        "--env", "DATABASE_URL", "postgres:16-alpine", "-c",
    )  # fmt: skip
    assert (
        "pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction "
        '--exit-on-error --dbname="$url" 20250301T100000Z-v2.dump'
    ) in command.argv[-1]


def test_restore_of_the_accessory_replaces_its_schema_in_the_same_transaction() -> None:
    script = database.restore(ACCESSORY, "b1").argv[-1]
    assert "pg_restore --no-owner --no-privileges --file=/tmp/restore.sql b1.dump;" in script
    assert (
        'psql -X -q --single-transaction -v ON_ERROR_STOP=1 --dbname="$url" '
        "-c 'SET client_min_messages = warning' -c 'DROP SCHEMA IF EXISTS public CASCADE' "
        "-c 'CREATE SCHEMA public' -f /tmp/restore.sql"
    ) in script


@pytest.mark.parametrize(
    ("version", "name"),
    [("v2", "20250301T100000Z-v2"), ("1.2.3+build/7", "20250301T100000Z-1.2.3_build_7"),
     ("", "20250301T100000Z-unknown")],
)  # fmt: skip
def test_backup_names_sort_by_time_and_carry_a_file_safe_version(version: str, name: str) -> None:
    assert database.backup_name("20250301T100000Z", version) == name


@pytest.mark.parametrize(
    "command",
    [
        database.make_secrets(ACCESSORY),
        database.backup(ACCESSORY, "n; rm -rf /", "{}", 2),
        database.list_backups(ACCESSORY),
        database.verify_backup(ACCESSORY, "n"),
        database.restore(ACCESSORY, "n"),
        database.restore(EXTERNAL, "n"),
    ],
    ids=lambda command: command.purpose.split()[0],
)
def test_every_script_is_valid_sh(command: Command) -> None:
    script = command.argv[-1]
    assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0


def test_a_backup_name_is_stamped_on_the_host_and_its_version_made_safe() -> None:
    script = database.backup(ACCESSORY, "n; rm -rf /", "{}", 2).argv[-1]
    assert 'name="$(date -u +%Y%m%dT%H%M%SZ)-"n__rm_-rf__;' in script
    # the same release gives the same command: a plan shows what the deploy runs
    assert database.backup(ACCESSORY, "v2", "{}", 2) == database.backup(ACCESSORY, "v2", "{}", 2)
