"""`gangway plan|deploy|rollback|status|lock|maintenance`: blue-green releases on a host."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gangway.cli.common import (
    Subcommands,
    build_deployer,
    env_option,
    json_option,
    lock_wait,
    lock_wait_option,
    missing_secrets,
    print_json,
    require_secrets,
)
from gangway.config.values import (
    check_image_reference,
    check_rollback_target,
    check_version,
    flag_value,
)
from gangway.errors import ConfigError, ConfigProblem
from gangway.masking import redact
from gangway.notify import Notifier
from gangway.notify.payloads import Action
from gangway.release.announce import Announcement
from gangway.release.deployer import Deployer, version_of
from gangway.release.plan import Plan
from gangway.release.state import ReleaseRecord


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add the release subcommands to the `gangway` parser."""
    env = env_option()
    json_flag = json_option()
    waiting = lock_wait_option()

    def release_options(*, image_required: bool) -> argparse.ArgumentParser:
        release = argparse.ArgumentParser(add_help=False)
        release.add_argument(
            "--image", required=image_required, type=flag_value(check_image_reference),
            help="image reference to deploy",
        )  # fmt: skip
        release.add_argument(
            "--version", type=flag_value(check_version),
            help="version to record (default: the image tag)",
        )  # fmt: skip
        release.add_argument(
            "--smoke",
            metavar="COMMAND",
            help="a command run on this machine against the new color's preview URL, given "
            "as {url}, before the switch; a failure backs the release out "
            '(e.g. "pytest tests/deployed -m smoke --base-url {url}")',
        )
        return release

    release = release_options(image_required=True)
    plan = commands.add_parser(
        "plan", parents=[common, env, release_options(image_required=False), json_flag],
        help="print the steps a deploy (--image) or a rollback (--rollback) would run, "
        "commands, waits and checks with their thresholds; changes nothing",
    )  # fmt: skip
    plan.add_argument("--rollback", action="store_true", help="plan a rollback instead of a deploy")
    plan.add_argument(
        "--to", metavar="VERSION", type=flag_value(check_rollback_target),
        help="with --rollback: the version to go back to",
    )  # fmt: skip
    plan.add_argument(
        "--allow-destructive", action="store_true",
        help="plan as `deploy --allow-destructive` would run",
    )  # fmt: skip
    plan.set_defaults(command=run_plan)

    deploy = commands.add_parser(
        "deploy", parents=[common, env, release, json_flag, waiting],
        help="deploy an image blue-green with zero downtime",
    )  # fmt: skip
    deploy.add_argument(
        "--allow-destructive", action="store_true",
        help="deploy even if pending migrations drop or rename tables or columns",
    )  # fmt: skip
    deploy.set_defaults(command=run_deploy)

    rollback = commands.add_parser(
        "rollback", parents=[common, env, json_flag, waiting],
        help="go back to the previous (or a named) release",
    )  # fmt: skip
    rollback.add_argument(
        "--to", metavar="VERSION", type=flag_value(check_rollback_target),
        help="version to go back to",
    )  # fmt: skip
    rollback.set_defaults(command=run_rollback)

    status = commands.add_parser(
        "status", parents=[common, env, json_flag],
        help="live color, version, health, history and lock of an environment",
    )  # fmt: skip
    status.set_defaults(command=run_status)

    lock = commands.add_parser(
        "lock", parents=[common, env], help="show or release an environment's deploy lock"
    )
    lock.add_argument("action", choices=("status", "release"))
    lock.set_defaults(command=run_lock)

    maintenance = commands.add_parser(
        "maintenance", parents=[common, env],
        help="serve a 503 maintenance page (on) or the live release again (off)",
    )  # fmt: skip
    maintenance.add_argument("state", choices=("on", "off"))
    maintenance.set_defaults(command=run_maintenance)


def _announcement(deployer: Deployer, action: Action, version: str, image: str) -> Announcement:
    notifier = Notifier(deployer.config.notifications, log=deployer.progress.say)
    return Announcement(notifier, deployer, action, version, image)


def _plan_usage(problem: str) -> ConfigError:
    return ConfigError([ConfigProblem(problem, key="gangway plan")])


def run_plan(args: argparse.Namespace) -> int:
    if args.rollback == bool(args.image):
        raise _plan_usage("give either --image IMAGE (a deploy) or --rollback [--to VERSION]")
    if args.to and not args.rollback:
        raise _plan_usage("--to plans a rollback: add --rollback")
    deployer = build_deployer(args, quiet=True)
    plan: Plan
    if args.rollback:
        plan = deployer.plan_rollback(args.to)
        version = plan.release.version if plan.release else ""
        action = "roll back to"
    else:
        version = args.version or version_of(args.image)
        plan = deployer.plan_deploy(args.image, version, allow_destructive=args.allow_destructive)
        action = "deploy"
    missing = missing_secrets(deployer)
    if args.json:
        print_json({**plan.to_json(), "missing_secrets": list(missing)})
        return 0
    now = f"live: {plan.previous}" if plan.previous else "nothing live yet"
    print(f"# plan: {action} {version} in {args.env} ({now})")
    print(f"# lock: docker create --name {deployer.target.lock} ... (one deploy at a time)")
    if missing:
        print(f"# warning: missing secret(s) {', '.join(missing)}: a deploy would stop here")
    for line in plan.lines():
        print(redact(line))
    return 0


def _print_record(record: ReleaseRecord, as_json: bool) -> None:
    if as_json:
        print(record.to_json())
    else:
        print(f"{record.action} {record.version} -> {record.color}: {record.outcome} "
              f"in {record.duration_s:.1f}s")  # fmt: skip


def run_deploy(args: argparse.Namespace) -> int:
    deployer = build_deployer(args)
    wait = lock_wait(args)
    version = args.version or version_of(args.image)
    with _announcement(deployer, "deploy", version, args.image).watching():
        require_secrets(deployer)
        record = deployer.deploy(
            args.image, args.version, lock_wait=wait, allow_destructive=args.allow_destructive
        )
    _print_record(record, args.json)
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    deployer = build_deployer(args)
    wait = lock_wait(args)
    with _announcement(deployer, "rollback", args.to or "", "").watching():
        require_secrets(deployer)
        record = deployer.rollback(args.to, lock_wait=wait)
    _print_record(record, args.json)
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = build_deployer(args, quiet=True).status().to_dict()
    if args.json:
        print_json(status)
        return 0
    live: Any = status["live"]
    print(f"environment  {status['environment']}  ({status['url']})")
    if live is None:
        print("live         nothing deployed yet")
    else:
        print(f"live         {live['color']}  {live['version']}  {live['image']}  "
              f"health={live['health'] or 'n/a'}")  # fmt: skip
        print(f"image id     {live['image_id']}")
    print(f"maintenance  {'ON' if status['maintenance'] else 'off'}")
    db: Any = status["database"]
    print(f"database     {db['kind']}" + ("" if db["container"] is None else
          f"  {db['container']}  {'running' if db['running'] else 'STOPPED'}"))  # fmt: skip
    lock: Any = status["lock"]
    print("lock         " + ("free" if lock is None else f"held by {lock['holder']} since "
                             f"{lock['since']}"))  # fmt: skip
    history: Any = status["history"]
    if history:
        print("history")
        for item in history:
            line = (f"  {item['started_at']}  {item['action']:<8} {item['version']:<16} "
                    f"{item['outcome']:<11} {item['duration_s']:6.1f}s  {item['who']}")  # fmt: skip
            if item.get("reason"):
                line += f"  ({item['step']}: {item['reason']})"
            print(line)
    return 0


def run_lock(args: argparse.Namespace) -> int:
    deployer = build_deployer(args, quiet=True)
    lock = deployer.lock_info()
    if args.action == "status":
        if lock is None:
            print(f"{args.env}: unlocked")
        else:
            print(f"{args.env}: locked by {lock.label('holder')} on {lock.label('host')} "
                  f"since {lock.label('since')}")  # fmt: skip
        return 0
    if deployer.release_lock(force=True):
        print(f"{args.env}: lock of {lock.label('holder') if lock else '?'} released",
              file=sys.stderr)  # fmt: skip
    else:
        print(f"{args.env}: was not locked", file=sys.stderr)
    return 0


def run_maintenance(args: argparse.Namespace) -> int:
    deployer = build_deployer(args)
    deployer.maintenance(args.state == "on")
    print(f"{args.env}: maintenance {args.state}")
    return 0
