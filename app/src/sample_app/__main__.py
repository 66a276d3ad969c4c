"""Command line: `python -m sample_app serve|migrate|healthcheck`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

# Only the standard library at module level: `healthcheck` runs every few seconds in
# the container and must not pay for importing FastAPI or SQLAlchemy.
if TYPE_CHECKING:
    from fastapi import FastAPI

    from sample_app.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sample_app", description="The sample notes service deployed by gangway."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve HTTP on HOST:PORT (never migrates)")
    serve.add_argument(
        "--reload", action="store_true", help="restart on code changes (development)"
    )
    migrate = commands.add_parser(
        "migrate", help="upgrade the database schema to the latest revision"
    )
    migrate.add_argument(
        "--pending",
        action="store_true",
        help="change nothing; print as JSON the revisions an upgrade would apply, with "
        "each script's path and source",
    )
    commands.add_parser("healthcheck", help="exit 0 if GET /health on 127.0.0.1:PORT answers 200")
    return parser


def _settings_or_exit() -> Settings:
    from sample_app.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from None


def _configure_logging(settings: Settings) -> None:
    from sample_app.logs import configure_logging

    configure_logging(settings.log_level)


def create_app_from_environment() -> FastAPI:
    """App factory for `uvicorn --factory` and the reloader: settings come from the environment."""
    from sample_app.web import create_app

    settings = _settings_or_exit()
    _configure_logging(settings)
    return create_app(settings)


def _serve(reload: bool) -> int:
    settings = _settings_or_exit()
    _configure_logging(settings)
    if settings.app_fault == "crash":
        print("error: APP_FAULT=crash: exiting at start on purpose", file=sys.stderr)
        return 3
    from sample_app.server import serve

    return serve(settings, reload=reload)


def _migrate() -> int:
    settings = _settings_or_exit()
    _configure_logging(settings)
    from sample_app.db import describe_error, run_migrations

    try:
        applied = run_migrations(settings)
    # Whatever broke, the deployer needs exit 1 and one clean line, not a traceback.
    except Exception as exc:  # noqa: BLE001
        print(f"error: migration failed: {describe_error(exc, settings)}", file=sys.stderr)
        return EXIT_FAILED
    if not applied:
        print("database schema already up to date")
    for step in applied:
        print(f"applied {step.revision}: {step.description}")
    return EXIT_OK


def _pending() -> int:
    settings = _settings_or_exit()
    import json

    from sample_app.db import describe_error, pending_migrations

    try:
        report = pending_migrations(settings)
    except Exception as exc:  # noqa: BLE001 - one clean line for the deployer, as migrate
        print(f"error: cannot read the schema revision: {describe_error(exc, settings)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    print(json.dumps(report))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m sample_app` and of the `app` console script."""
    args = _parser().parse_args(argv)
    if args.command == "healthcheck":
        from sample_app.healthcheck import main as healthcheck

        return healthcheck()
    if args.command == "migrate":
        return _pending() if args.pending else _migrate()
    return _serve(args.reload)


if __name__ == "__main__":
    sys.exit(main())
