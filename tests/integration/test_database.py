"""The database on the real engine: the PostgreSQL accessory, backups before migrations,
failed migrations that leave the live color serving, restores, and the destructive guard.

Each deploy runs under load through the real proxy; each ends with 0 failed requests, a
consistent `gangway status`, and a next normal deploy that goes through.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gangway.config import PipelineConfig
from tests.integration import test_deploy
from tests.integration.conftest import docker, wait_for
from tests.integration.test_deploy import Stage, assert_no_failures, under_load
from tests.support.pg import free_port

# The deploy tests' fixtures: their release images, and a stage with an external database.
release_images = test_deploy.release_images
stage = test_deploy.stage

VERSIONS_DIR = "/opt/app/src/sample_app/migrations/versions"

# Revisions a later release of the sample app could bring, each in a derived image.
REVISIONS = {
    # expand: a new nullable column the old release ignores
    "tags": """
def upgrade() -> None:
    op.add_column("notes", sa.Column("tags", sa.Text(), nullable=True))
""",
    # fails half-way; PostgreSQL rolls the whole transaction back (the table included)
    "broken": """
def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("SELECT no_such_function()")
""",
    # commits its first step before failing: only a restore puts the rows back
    "partial": """
def upgrade() -> None:
    op.create_table("left_over", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("DELETE FROM notes")
    op.execute("COMMIT")
    op.execute("SELECT no_such_function()")
""",
    # drops a table: refused by the guard unless --allow-destructive
    "destructive": """
def upgrade() -> None:
    op.create_table("scratch", sa.Column("id", sa.Integer(), primary_key=True))
    op.drop_table("scratch")
""",
}


def revision_script(kind: str) -> str:
    return (
        f'"""{kind} migration of a test release"""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        'revision = "0002"\ndown_revision = "0001"\nbranch_labels = None\ndepends_on = None\n'
        + REVISIONS[kind]
        + "\n\ndef downgrade() -> None:\n    pass\n"
    )


@pytest.fixture(scope="session")
def migration_images(
    release_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """v1 and v2 (no new migration), and one image per revision kind, FROM v2."""
    repository = f"gangway-test/db-{uuid.uuid4().hex[:8]}"
    images = {"v1": release_images["v1"], "v2": release_images["v2"]}
    made: list[str] = []
    for kind in REVISIONS:
        context = tmp_path_factory.mktemp(f"image-{kind}")
        (context / f"0002_{kind}.py").write_text(revision_script(kind))
        (context / "Dockerfile").write_text(
            f"FROM {release_images['v2']}\nENV APP_VERSION=v2-{kind}\n"
            f"COPY 0002_{kind}.py {VERSIONS_DIR}/0002_{kind}.py\n"
        )
        tag = f"{repository}:v2-{kind}"
        proc = subprocess.run(
            ["docker", "build", "--quiet", "--tag", tag, str(context)],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        images[f"v2-{kind}"] = tag
        made.append(tag)
    yield images
    docker("image", "rm", "--force", *made, check=False)


def write_accessory_config(
    path: Path, app: str, port: int, preview: int, pipeline: PipelineConfig
) -> None:
    path.write_text(
        f"""
[app]
name = "{app}"

[proxy]
image = "{pipeline.proxy.image}"

[database]
image = "{pipeline.database.image}"

[environments.staging]
port = {free_port()}
preview_port = {free_port()}

[environments.production]
port = {port}
preview_port = {preview}
pull = "never"
retain = 3
lock_timeout = "10m"

[environments.production.env]
APP_ENV = "production"
SHUTDOWN_TIMEOUT = "15"

[environments.production.health]
deploy_timeout = "30s"
drain_timeout = "15s"

[environments.production.database]
kind = "accessory"
backup_retain = 3

[environments.production.watch]
window = "1s"
"""
    )


@pytest.fixture
def accessory(
    tmp_path: Path,
    pipeline: PipelineConfig,
    migration_images: dict[str, str],
    base_images: None,
) -> Iterator[Stage]:
    """An environment whose database gangway itself starts and keeps."""
    app = f"gw{uuid.uuid4().hex[:8]}"
    port, preview = free_port(), free_port()
    config = tmp_path / "pipeline.toml"
    write_accessory_config(config, app, port, preview, pipeline)
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GANGWAY_ENV")}
    environ.pop("DATABASE_URL", None)
    environ["GANGWAY_ACTOR"] = "integration-test"
    try:
        yield Stage(app, config, port, preview, environ, dict(migration_images))
    finally:
        prefix = f"{app}-production"
        ids = docker("ps", "--all", "--quiet", "--filter", f"label=dev.gangway.app={app}",
                     check=False).split()  # fmt: skip
        if ids:
            docker("rm", "--force", *ids, check=False)
        for volume in ("state", "db-data", "db-secrets", "backups"):
            docker("volume", "rm", f"{prefix}-{volume}", check=False)
        docker("network", "rm", prefix, check=False)


def psql(stage: Stage, sql: str) -> str:
    """Run SQL in the accessory (as its owner, over the local socket) and return rows."""
    user = stage.app.replace("-", "_")
    return docker(
        "exec", f"{stage.app}-production-db", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
        f"--username={user}", f"--dbname={user}", "-c", sql,
    )  # fmt: skip


def fingerprint(stage: Stage) -> tuple[int, str]:
    """The notes table's row count and an md5 over its contents in id order."""
    out = psql(
        stage,
        "SELECT count(*) || ' ' || coalesce(md5(string_agg(n::text, '|' ORDER BY id)), '') "
        "FROM notes n",
    )
    count, _, digest = out.partition(" ")
    return int(count), digest


def add_notes(stage: Stage, n: int) -> None:
    for i in range(n):
        response = httpx.post(f"{stage.url}/notes", json={"title": f"note {i}", "body": "x" * i},
                              timeout=5)  # fmt: skip
        assert response.status_code == 201, response.text


def backups(stage: Stage) -> list[dict[str, Any]]:
    proc = stage.gangway("db", "backups", "--env", "production", "--json")
    assert proc.returncode == 0, proc.stderr
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    return found


def columns(stage: Stage) -> set[str]:
    out = psql(stage, "SELECT column_name FROM information_schema.columns "
                      "WHERE table_name = 'notes'")  # fmt: skip
    return set(out.split())


def assert_consistent(stage: Stage, version: str) -> None:
    status = stage.status()
    assert status["live"]["version"] == version
    assert status["live"]["running"] is True
    assert status["database"]["kind"] == "accessory"
    assert status["database"]["running"] is True
    assert status["lock"] is None
    assert stage.live_version() == version


def test_accessory_is_started_on_the_first_deploy_and_kept_with_its_data(
    accessory: Stage,
) -> None:
    first = accessory.gangway("deploy", "--env", "production", "--image",
                              accessory.images["v1"], "--version", "v1")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "start the database" in first.stderr
    db = f"{accessory.app}-production-db"
    db_id = docker("inspect", "--format", "{{.Id}}", db)
    add_notes(accessory, 3)
    before = fingerprint(accessory)

    second = accessory.gangway("deploy", "--env", "production", "--image",
                               accessory.images["v2"], "--version", "v2")  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "start the database" not in second.stderr
    assert "brings no new migration" in second.stderr
    assert "no backup needed" in second.stderr

    assert docker("inspect", "--format", "{{.Id}}", db) == db_id  # the same container
    assert fingerprint(accessory) == before
    assert_consistent(accessory, "v2")
    # the password was made on the host and never shown
    password = docker("run", "--rm", "--pull=never", "--volume",
                      f"{accessory.app}-production-db-secrets:/s:ro", "--entrypoint", "cat",
                      accessory.images["v1"], "/s/password")  # fmt: skip
    assert len(password) == 48
    for proc in (first, second):
        assert password not in proc.stdout + proc.stderr
    assert password not in accessory.gangway("status", "--env", "production", "--json").stdout


def test_release_with_a_migration_is_backed_up_then_migrated_under_load(
    accessory: Stage,
) -> None:
    accessory.deploy("v1")
    add_notes(accessory, 5)
    made_before = len(backups(accessory))
    with under_load(accessory) as load:
        load.wait_for_requests(200, timeout=60)
        proc = accessory.gangway("deploy", "--env", "production", "--image",
                                 accessory.images["v2-tags"], "--version", "v2-tags")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        load.wait_for_requests(len(load.samples()) + 300, timeout=60)
    assert_no_failures(load.summary())
    assert "1 pending: 0002" in proc.stderr
    assert proc.stderr.index("back up the database") < proc.stderr.index("run `app migrate`")
    assert "tags" in columns(accessory)

    found = backups(accessory)
    assert len(found) == made_before + 1
    newest = found[-1]
    assert newest["version"] == "v2-tags"
    assert newest["size"] > 0
    assert len(newest["sha256"]) == 64
    # the file and its checksum are in the volume, and they agree
    check = docker("run", "--rm", "--pull=never", "--volume",
                   f"{accessory.app}-production-backups:/b:ro", "--workdir", "/b",
                   "--entrypoint", "sha256sum", accessory.images["v1"], "-c",
                   f"{newest['name']}.dump.sha256")  # fmt: skip
    assert check == f"{newest['name']}.dump: OK"
    assert_consistent(accessory, "v2-tags")


@pytest.mark.fault(4)
def test_fault_4_failed_migration_keeps_the_live_color_and_the_database(
    accessory: Stage,
) -> None:
    """Fault 4: a release whose migration fails: no switch, exit 1, the live color keeps
    serving on an unchanged database (transactional), the failure is in the history."""
    accessory.deploy("v1")
    add_notes(accessory, 4)
    before = fingerprint(accessory)
    with under_load(accessory) as load:
        load.wait_for_requests(200, timeout=60)
        proc = accessory.gangway(
            "deploy", "--env", "production", "--image", accessory.images["v2-broken"],
            "--version", "v2-broken",
        )  # fmt: skip
        assert accessory.live_version() == "v1"
        load.wait_for_requests(len(load.samples()) + 300, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "error: migrate:" in proc.stderr
    assert "no_such_function" in proc.stderr
    assert "the database is unchanged" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert_no_failures(load.summary())

    assert fingerprint(accessory) == before
    assert "half_done" not in psql(accessory, "SELECT tablename FROM pg_tables")
    assert psql(accessory, "SELECT version_num FROM alembic_version") == "0001"
    assert_consistent(accessory, "v1")
    last = accessory.status()["history"][-1]
    assert (last["version"], last["outcome"], last["step"]) == ("v2-broken", "failed", "migrate")
    # nothing of the failed release was started
    assert {c["version"] for c in accessory.status()["containers"]} == {"v1"}

    accessory.deploy("v2")
    assert_consistent(accessory, "v2")


@pytest.mark.fault(4)
def test_fault_4_non_transactional_failed_migration_is_restored_from_the_backup(
    accessory: Stage,
) -> None:
    """Fault 4: a migration that committed part of its work then failed, with
    `transactional = false`: the database is restored from the pre-migration backup."""
    env = {"GANGWAY_ENVIRONMENTS__PRODUCTION__MIGRATIONS__TRANSACTIONAL": "false"}
    accessory.deploy("v1", env=env)
    add_notes(accessory, 6)
    before = fingerprint(accessory)
    with under_load(accessory) as load:
        load.wait_for_requests(200, timeout=60)
        proc = accessory.gangway("deploy", "--env", "production", "--image",
                                 accessory.images["v2-partial"], "--version", "v2-partial",
                                 env=env)  # fmt: skip
        load.wait_for_requests(len(load.samples()) + 300, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "not transactional: restoring" in proc.stderr
    assert "the database was restored from" in proc.stderr
    assert_no_failures(load.summary())
    assert fingerprint(accessory) == before  # the deleted rows are back
    # and what the failed migration created is gone: the schema is the backup's
    assert "left_over" not in psql(accessory, "SELECT tablename FROM pg_tables")
    assert psql(accessory, "SELECT version_num FROM alembic_version") == "0001"
    assert_consistent(accessory, "v1")

    accessory.deploy("v2", env=env)
    assert_consistent(accessory, "v2")


@pytest.mark.fault(13)
def test_fault_13_backup_restored_and_verified(accessory: Stage) -> None:
    """Fault 13: database backup restored and verified: row counts and a checksum of
    the table's contents equal the values before the backup."""
    accessory.deploy("v1")
    add_notes(accessory, 25)
    before = fingerprint(accessory)
    assert before[0] == 25
    made = accessory.gangway("db", "backup", "--env", "production")
    assert made.returncode == 0, made.stderr
    newest = backups(accessory)[-1]
    assert newest["reason"] == "on demand"
    assert newest["name"] in made.stdout

    psql(accessory, "DELETE FROM notes WHERE id % 2 = 0")
    psql(accessory, "UPDATE notes SET title = 'changed'")
    assert fingerprint(accessory) != before

    with under_load(accessory) as load:
        load.wait_for_requests(200, timeout=60)
        proc = accessory.gangway("db", "restore", "--env", "production")
        load.wait_for_requests(len(load.samples()) + 300, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"verify the checksum of {newest['name']}: ok" in proc.stderr
    assert f"restored {newest['name']}" in proc.stdout
    assert_no_failures(load.summary())
    assert fingerprint(accessory) == before
    assert_consistent(accessory, "v1")

    # a damaged backup is refused before the database is touched
    docker("run", "--rm", "--pull=never", "--user", "0", "--volume",
           f"{accessory.app}-production-backups:/b", "--entrypoint", "sh",
           accessory.images["v1"], "-c", f"echo garbage >> /b/{newest['name']}.dump")  # fmt: skip
    psql(accessory, "DELETE FROM notes WHERE id = 1")
    damaged = accessory.gangway("db", "restore", "--env", "production", newest["name"])
    assert damaged.returncode == 1
    assert "does not match its checksum" in damaged.stderr
    assert fingerprint(accessory)[0] == 24

    accessory.deploy("v2")
    assert_consistent(accessory, "v2")


def test_destructive_migration_is_refused_without_the_flag_and_allowed_with_it(
    accessory: Stage,
) -> None:
    accessory.deploy("v1")
    made_before = len(backups(accessory))
    state_before = docker("ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.State}}",
                          "--filter", f"label=dev.gangway.app={accessory.app}")  # fmt: skip
    refused = accessory.gangway(
        "deploy", "--env", "production", "--image", accessory.images["v2-destructive"],
        "--version", "v2-destructive",
    )  # fmt: skip
    assert refused.returncode == 1
    assert "error: guard:" in refused.stderr
    assert "0002_destructive.py:" in refused.stderr
    assert "drop_table('scratch')" in refused.stderr
    assert "expand/contract" in refused.stderr
    assert "--allow-destructive" in refused.stderr
    # nothing on the host changed: no backup, no migration, no container
    assert len(backups(accessory)) == made_before
    assert psql(accessory, "SELECT version_num FROM alembic_version") == "0001"
    after = docker("ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.State}}",
                   "--filter", f"label=dev.gangway.app={accessory.app}")  # fmt: skip
    assert after == state_before
    assert_consistent(accessory, "v1")

    allowed = accessory.gangway("deploy", "--env", "production", "--image",
                                accessory.images["v2-destructive"], "--version", "v2-destructive",
                                "--allow-destructive")  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert "destructive, allowed" in allowed.stderr
    assert psql(accessory, "SELECT version_num FROM alembic_version") == "0002"
    assert_consistent(accessory, "v2-destructive")


@pytest.fixture
def external(stage: Stage) -> Iterator[Stage]:
    """The deploy tests' environment: the database is the test's, its URL a secret."""
    yield stage
    docker("volume", "rm", f"{stage.app}-production-backups", check=False)


def test_backups_and_restore_work_against_an_external_database_url(external: Stage) -> None:
    ext = external
    ext.deploy("v1")
    add_notes(ext, 7)
    always = {"GANGWAY_ENVIRONMENTS__PRODUCTION__MIGRATIONS__PENDING": "[]"}
    proc = ext.gangway("deploy", "--env", "production", "--image", ext.images["v2"],
                         "--version", "v2", env=always)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "backing up and migrating" in proc.stderr
    listed = ext.gangway("db", "backups", "--env", "production")
    assert listed.returncode == 0, listed.stderr
    assert "2 backup(s)" in listed.stdout  # the first deploy (0001 pending) and v2
    db = f"{ext.app}-db"
    count = ["exec", db, "psql", "-X", "-At", "-U", "notes", "-d", "notes", "-c"]
    docker(*count, "DELETE FROM notes")
    restored = ext.gangway("db", "restore", "--env", "production")
    assert restored.returncode == 0, restored.stderr
    assert docker(*count, "SELECT count(*) FROM notes") == "7"
    assert ext.environ["DATABASE_URL"] not in restored.stdout + restored.stderr
    wait_for("v2 to stay live", lambda: ext.live_version() == "v2")
