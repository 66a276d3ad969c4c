"""`gangway db backups|restore`: the environment's database backups on its host."""

from __future__ import annotations

import argparse

from gangway.cli.common import (
    Subcommands,
    build_deployer,
    env_option,
    json_option,
    lock_wait,
    lock_wait_option,
    print_json,
    require_secrets,
)
from gangway.errors import DeployFailed


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add `gangway db ...` to the `gangway` parser."""
    db = commands.add_parser(
        "db", parents=[common], help="list and restore the environment's database backups"
    )
    actions = db.add_subparsers(title="actions", metavar="ACTION", required=True)
    env = env_option()
    waiting = lock_wait_option()

    backups = actions.add_parser(
        "backups", parents=[common, env, json_option()], help="list the backups, oldest first"
    )
    backups.set_defaults(command=run_backups)

    backup = actions.add_parser(
        "backup", parents=[common, env, waiting],
        help="back the database up now (pg_dump, checksum)",
    )  # fmt: skip
    backup.set_defaults(command=run_backup)

    restore = actions.add_parser(
        "restore", parents=[common, env, waiting],
        help="verify a backup's checksum, then restore it over the database (one transaction)",
    )  # fmt: skip
    restore.add_argument(
        "backup", nargs="?", metavar="BACKUP", help="backup name (default: the newest)"
    )
    restore.set_defaults(command=run_restore)


def _needs_url(args: argparse.Namespace) -> None:
    """An external database is reached with the deployer's DATABASE_URL."""
    deployer = build_deployer(args, quiet=True)
    if deployer.database.accessory:
        return
    if "DATABASE_URL" not in deployer.env.secrets:
        raise DeployFailed(
            "database",
            f"{args.env} has an external database but DATABASE_URL is not among its secrets",
            hint=f"add it to environments.{args.env}.secrets, or set "
            f"environments.{args.env}.database.kind = 'accessory'",
        )
    require_secrets(deployer)


def run_backups(args: argparse.Namespace) -> int:
    deployer = build_deployer(args, quiet=True)
    found = deployer.backups.list()
    if args.json:
        print_json([backup.to_dict() for backup in found])
        return 0
    if not found:
        print(f"{args.env}: no backups in volume {deployer.database.backups}")
        return 0
    print(f"{args.env}: {len(found)} backup(s) in volume {deployer.database.backups}, "
          "oldest first")  # fmt: skip
    for backup in found:
        print(f"  {backup.name:<40} {backup.size:>12,} B  sha256 {backup.sha256[:12]}  "
              f"{backup.reason}")  # fmt: skip
    return 0


def run_backup(args: argparse.Namespace) -> int:
    _needs_url(args)
    deployer = build_deployer(args)
    wait = lock_wait(args)
    with deployer.locked(wait):
        live = deployer.read_state().live
        made = deployer.backups.create(live.version if live else "none", "on demand")
    print(f"{args.env}: backed up {made.describe()}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    _needs_url(args)
    deployer = build_deployer(args)
    wait = lock_wait(args)
    with deployer.locked(wait):
        restored = deployer.backups.restore(args.backup)
    print(f"{args.env}: restored {restored.describe()}")
    return 0
