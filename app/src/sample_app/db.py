"""The database engine, its health probe and the Alembic migrations run from code."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from sample_app.settings import Settings

SCRIPT_LOCATION = "sample_app:migrations"
PROBE_TIMEOUT_SECONDS = 2
# Any constant works; it only has to be the same for every replica running `migrate`.
_MIGRATION_LOCK_KEY = 0x6761_6E67_7761_79


@dataclass(frozen=True)
class DatabaseStatus:
    """Outcome of one `SELECT 1`: reachable or not, how fast, and why not."""

    ok: bool
    latency_ms: float
    error: str | None = None


def make_engine(settings: Settings, *, probe_timeout: int = PROBE_TIMEOUT_SECONDS) -> Engine:
    """A pooled engine whose connection attempts give up quickly, so probes stay bounded."""
    return create_engine(
        settings.sqlalchemy_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=probe_timeout,
        connect_args={"connect_timeout": probe_timeout, "application_name": "sample_app"},
    )


def describe_error(exc: BaseException, settings: Settings) -> str:
    """One line about a database failure, with the password removed even if libpq echoed it."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    message = f"{type(original).__name__}: {lines[0] if lines else 'no details'}"
    password = urlsplit(settings.database_url.get_secret_value()).password
    for form in {password, unquote(password)} if password else ():
        message = message.replace(form, "***")
    return message


def check_database(
    engine: Engine, settings: Settings, *, timeout: int = PROBE_TIMEOUT_SECONDS
) -> DatabaseStatus:
    """Run `SELECT 1` under a statement timeout and report latency or the reason it failed."""
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
            connection.execute(text("SELECT 1"))
            connection.rollback()
    except (SQLAlchemyError, OSError) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return DatabaseStatus(
            ok=False, latency_ms=round(elapsed, 2), error=describe_error(exc, settings)
        )
    elapsed = (time.perf_counter() - started) * 1000
    return DatabaseStatus(ok=True, latency_ms=round(elapsed, 2))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code, so the image needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> frozenset[str]:
    """The revisions the code expects the schema to be at."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at (empty before the first migration)."""
    # Plain SQL rather than Alembic's MigrationContext: /ready asks this every few
    # seconds, and the context logs its set-up on each call.
    table = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if table is None:
        return frozenset()
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return frozenset(str(row) for row in rows)


@dataclass(frozen=True)
class AppliedMigration:
    """One migration step that `migrate` ran."""

    revision: str
    description: str


def run_migrations(settings: Settings) -> list[AppliedMigration]:
    """Upgrade the schema to head in one transaction and return the steps applied."""
    config_without_connection = alembic_config()
    scripts = ScriptDirectory.from_config(config_without_connection)
    applied: list[AppliedMigration] = []

    # Alembic calls this with keyword arguments, so the parameter names are fixed.
    def record(
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: Collection[Any],
        run_args: Mapping[str, Any],
    ) -> None:
        revision = step.up_revision_id
        script = scripts.get_revision(revision) if revision else None
        description = (script.doc if script is not None else "") or ""
        applied.append(AppliedMigration(revision=str(revision), description=description))

    engine = make_engine(settings, probe_timeout=10)
    try:
        # PostgreSQL DDL is transactional: a failing step leaves the schema as it was.
        with engine.begin() as connection:
            # Replicas started together must not race each other through the same steps.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
            config = alembic_config(connection)
            config.attributes["on_version_apply"] = record
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    return applied


def pending_migrations(settings: Settings) -> dict[str, Any]:
    """The revisions `run_migrations` would apply, oldest first, each with its script's
    path and source (for a deployer's checks); reads the database, changes nothing."""
    scripts = ScriptDirectory.from_config(alembic_config())
    engine = make_engine(settings, probe_timeout=10)
    try:
        with engine.connect() as connection:
            current = current_revisions(connection)
    finally:
        engine.dispose()
    heads = scripts.get_heads()
    known = {revision for revision in current if _known_revision(scripts, revision)}
    if known != current:
        # A newer release already migrated past this code: nothing for it to apply.
        return {"current": sorted(current), "head": sorted(heads), "pending": [], "ahead": True}
    lower = tuple(sorted(current)) or None
    revisions = list(scripts.iterate_revisions(tuple(heads), lower)) if heads else []
    pending = []
    for script in reversed(revisions):
        if script.revision in current:
            continue
        path = Path(script.path)
        pending.append(
            {
                "revision": script.revision,
                "description": script.doc or "",
                "path": path.name,
                "source": path.read_text(encoding="utf-8"),
            }
        )
    return {"current": sorted(current), "head": sorted(heads), "pending": pending}


def _known_revision(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False
