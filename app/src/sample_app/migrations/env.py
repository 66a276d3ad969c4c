"""Alembic environment: migrates over the connection that `sample_app migrate` hands in."""

from __future__ import annotations

from alembic import context

from sample_app.models import Base

config = context.config


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade --sql`), for a DBA to review."""
    context.configure(
        url="postgresql+psycopg://",
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, inside the caller's transaction."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `python -m sample_app migrate`")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
