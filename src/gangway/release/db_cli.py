"""`gangway db backups|restore`: the environment's database backups on its host."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gangway.config import ENVIRONMENT_NAMES
from gangway.errors import DeployFailed
from gangway.release.cli import _deployer, _lock_wait, _missing_secrets


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `gangway db ...` to the `gangway` parser."""
    db = commands.add_parser(
        "db", parents=[common], help="list and restore the environment's database backups"
    )
    actions = db.add_subparsers(title="actions", metavar="ACTION", required=True)
    env = argparse.ArgumentParser(add_help=False)
    env.add_argument(
        "--env", required=True, choices=ENVIRONMENT_NAMES, help="environment of pipeline.toml"
    )

    backups = actions.add_parser(
        "backups", parents=[common, env], help="list the backups, oldest first"
    )
    backups.add_argument("--json", action="store_true", help="print JSON on stdout")
    backups.set_defaults(command=run_backups)

    backup = actions.add_parser(
        "backup", parents=[common, env], help="back the database up now (pg_dump, checksum)"
    )
    backup.add_argument(
        "--lock-wait", default=None, metavar="DURATION",
        help="queue behind a running deploy for up to this long instead of failing with exit 3",
    )  # fmt: skip
    backup.set_defaults(command=run_backup)

    restore = actions.add_parser(
        "restore", parents=[common, env],
        help="verify a backup's checksum, then restore it over the database (one transaction)",
    )  # fmt: skip
    restore.add_argument(
        "backup", nargs="?", metavar="BACKUP", help="backup name (default: the newest)"
    )
    restore.add_argument(
        "--lock-wait", default=None, metavar="DURATION",
        help="queue behind a running deploy for up to this long instead of failing with exit 3",
    )  # fmt: skip
    restore.set_defaults(command=run_restore)


def _needs_url(args: argparse.Namespace) -> None:
    """An external database is reached with the deployer's DATABASE_URL."""
    deployer = _deployer(args, quiet=True)
    if deployer.database.accessory:
        return
    if "DATABASE_URL" not in deployer.env.secrets:
        raise DeployFailed(
            "database",
            f"{args.env} has an external database but DATABASE_URL is not among its secrets",
            hint=f"add it to environments.{args.env}.secrets, or set "
            f"environments.{args.env}.database.kind = 'accessory'",
        )
    _missing_secrets(deployer)


def run_backups(args: argparse.Namespace) -> int:
    deployer = _deployer(args, quiet=True)
    found = deployer.backups.list()
    if args.json:
        print(json.dumps([backup.to_dict() for backup in found], indent=2))
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
    deployer = _deployer(args)
    wait = _lock_wait(args)
    with deployer.locked(wait):
        live = deployer.read_state().live
        made = deployer.backups.create(live.version if live else "none", "on demand")
    print(f"{args.env}: backed up {made.describe()}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    _needs_url(args)
    deployer = _deployer(args)
    wait = _lock_wait(args)
    with deployer.locked(wait):
        restored = deployer.backups.restore(args.backup)
    print(f"{args.env}: restored {restored.describe()}")
    return 0
