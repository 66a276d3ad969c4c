"""The release commands of the CLI: plan, deploy, rollback, status, lock, maintenance."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Any

from gangway.config import ENVIRONMENT_NAMES, load_config, parse_duration
from gangway.config.values import (
    check_image_reference,
    check_lock_wait,
    check_rollback_target,
    check_version,
    flag_value,
)
from gangway.errors import ConfigError, ConfigProblem, ValueSource
from gangway.execute import DockerCli
from gangway.masking import MASK, redact
from gangway.notify import Notifier
from gangway.notify.payloads import Action
from gangway.progress import Progress
from gangway.release.announce import Announcement
from gangway.release.deployer import Deployer, plan_lines, version_of
from gangway.release.secrets import config_secrets, resolve_secrets
from gangway.release.state import ReleaseRecord


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the release subcommands to the `gangway` parser."""
    env = argparse.ArgumentParser(add_help=False)
    env.add_argument(
        "--env", required=True, choices=ENVIRONMENT_NAMES, help="environment of pipeline.toml"
    )
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON on stdout")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--lock-wait",
        default=None,
        type=flag_value(check_lock_wait),
        metavar="DURATION",
        help="queue behind a running deploy for up to this long (e.g. 5m) instead of "
        "failing with exit 3",
    )

    release = argparse.ArgumentParser(add_help=False)
    release.add_argument(
        "--image", required=True, type=flag_value(check_image_reference),
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

    plan = commands.add_parser(
        "plan", parents=[common, env, release],
        help="print the docker commands a deploy would run; changes nothing",
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
        "lock", parents=[common], help="show or release an environment's deploy lock"
    )
    lock.add_argument("action", choices=("status", "release"))
    lock.add_argument("--env", required=True, choices=ENVIRONMENT_NAMES)
    lock.set_defaults(command=run_lock)

    maintenance = commands.add_parser(
        "maintenance", parents=[common],
        help="serve a 503 maintenance page (on) or the live release again (off)",
    )  # fmt: skip
    maintenance.add_argument("state", choices=("on", "off"))
    maintenance.add_argument("--env", required=True, choices=ENVIRONMENT_NAMES)
    maintenance.set_defaults(command=run_maintenance)


def _deployer(args: argparse.Namespace, *, quiet: bool = False) -> Deployer:
    from gangway.cli import config_path

    config = load_config(config_path(args))
    env = config.environment(args.env)
    secrets = resolve_secrets(env)
    # From here on no value of a secret is printed or recorded (gangway.masking).
    MASK.add(*secrets.values(), *config_secrets(config))
    # Secrets delivered as env reach docker through its environment (`--env NAME`). An
    # external DATABASE_URL given as a file also goes there, for the one-off backup and
    # restore containers (`--env DATABASE_URL`); the app still gets it as its file only.
    database_url = {name: value for name, value in secrets.files.items() if name == "DATABASE_URL"}
    executor = DockerCli(env.docker_host, {**os.environ, **secrets.env, **database_url})
    return Deployer(
        config,
        args.env,
        executor,
        Progress(quiet=quiet),
        secret_files=dict(secrets.files),
        smoke=_smoke(args),
    )


def _smoke(args: argparse.Namespace) -> tuple[str, ...]:
    raw: str | None = getattr(args, "smoke", None)
    if not raw:
        return ()
    problem = ""
    try:
        command = tuple(shlex.split(raw))
    except ValueError as exc:
        problem, command = f"cannot split into words: {exc}", ()
    if not problem and not any("{url}" in part for part in command):
        problem = "must contain {url}, where the preview URL goes"
    if problem:
        raise ConfigError(
            [ConfigProblem(problem, key="--smoke", value=raw,
                           source=ValueSource("override", "--smoke"))]
        )  # fmt: skip
    return command


def _lock_wait(args: argparse.Namespace) -> float:
    if args.lock_wait is None:
        return 0.0
    try:
        return parse_duration(args.lock_wait).total_seconds()
    except ValueError as exc:
        raise ConfigError(
            [ConfigProblem(str(exc), key="--lock-wait", value=args.lock_wait,
                           source=ValueSource("override", "--lock-wait"))]
        ) from exc  # fmt: skip


def _missing_secrets(deployer: Deployer) -> None:
    """Stop before anything on the host changes if a secret has no value."""
    resolve_secrets(deployer.env).require(deployer.environment)


def _announcement(deployer: Deployer, action: Action, version: str, image: str) -> Announcement:
    notifier = Notifier(deployer.config.notifications, log=deployer.progress.say)
    return Announcement(notifier, deployer, action, version, image)


def run_plan(args: argparse.Namespace) -> int:
    deployer = _deployer(args, quiet=True)
    state = deployer.read_state()
    version = args.version or version_of(args.image)
    steps = deployer.deploy_steps(state, args.image, version)
    live = state.live
    now = f"live: {live.color} {live.version}" if live else "nothing live yet"
    print(f"# plan: deploy {version} to {args.env} ({now})")
    print(f"# lock: docker create --name {deployer.target.lock} ... (one deploy at a time)")
    missing = resolve_secrets(deployer.env).missing
    if missing:
        print(f"# warning: missing secret(s) {', '.join(missing)}: a deploy would stop here")
    for line in plan_lines(steps):
        print(redact(line))
    return 0


def _print_record(record: ReleaseRecord, as_json: bool) -> None:
    if as_json:
        print(record.to_json())
    else:
        print(f"{record.action} {record.version} -> {record.color}: {record.outcome} "
              f"in {record.duration_s:.1f}s")  # fmt: skip


def run_deploy(args: argparse.Namespace) -> int:
    deployer = _deployer(args)
    wait = _lock_wait(args)
    version = args.version or version_of(args.image)
    with _announcement(deployer, "deploy", version, args.image).watching():
        _missing_secrets(deployer)
        record = deployer.deploy(
            args.image, args.version, lock_wait=wait, allow_destructive=args.allow_destructive
        )
    _print_record(record, args.json)
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    deployer = _deployer(args)
    wait = _lock_wait(args)
    with _announcement(deployer, "rollback", args.to or "", "").watching():
        _missing_secrets(deployer)
        record = deployer.rollback(args.to, lock_wait=wait)
    _print_record(record, args.json)
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = _deployer(args, quiet=True).status()
    if args.json:
        print(json.dumps(status, indent=2))
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
    deployer = _deployer(args, quiet=True)
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
    deployer = _deployer(args)
    deployer.maintenance(args.state == "on")
    print(f"{args.env}: maintenance {args.state}")
    return 0
