"""What several subcommands share: the config path, the Deployer, shared options, printing.

Subcommand modules import from here and never from each other; this is the one place that
builds a Deployer and its executor, so when the deployer's API changes only this module
and the commands that call its methods follow.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from gangway.config import ENVIRONMENT_NAMES, load_config
from gangway.config.values import check_lock_wait, flag_value
from gangway.errors import ConfigError, ConfigProblem, ValueSource
from gangway.execute import DockerCli
from gangway.masking import MASK
from gangway.progress import Progress
from gangway.release.deployer import Deployer
from gangway.release.secrets import config_secrets, resolve_secrets


class Subcommands(Protocol):
    """The object `add_subparsers()` returns (argparse keeps its class private)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def config_path(args: argparse.Namespace) -> Path:
    """The config file: --config, else $GANGWAY_CONFIG, else ./pipeline.toml."""
    if args.config is not None:
        return Path(args.config)
    return Path(os.environ.get("GANGWAY_CONFIG") or "pipeline.toml")


def env_option(*, help_text: str = "environment of pipeline.toml") -> argparse.ArgumentParser:
    """A parent parser with the required `--env NAME` of the commands that act on a host."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--env", required=True, choices=ENVIRONMENT_NAMES, help=help_text)
    return parent


def json_option() -> argparse.ArgumentParser:
    """A parent parser with `--json`: print a machine-readable result on stdout."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON on stdout")
    return parent


def lock_wait_option() -> argparse.ArgumentParser:
    """A parent parser with `--lock-wait DURATION` for the commands that take the lock."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--lock-wait",
        default=None,
        type=flag_value(check_lock_wait),
        metavar="DURATION",
        help="queue behind a running deploy for up to this long (e.g. 5m) instead of "
        "failing with exit 3",
    )
    return parent


def lock_wait(args: argparse.Namespace) -> float:
    """--lock-wait in seconds (0: fail at once if the environment is locked)."""
    if args.lock_wait is None:
        return 0.0
    wait: timedelta = args.lock_wait  # checked and parsed by the option's type
    return wait.total_seconds()


def print_json(document: object) -> None:
    """Print one JSON document on stdout, the shape every `--json` prints."""
    print(json.dumps(document, indent=2, ensure_ascii=False))


def build_deployer(args: argparse.Namespace, *, quiet: bool = False) -> Deployer:
    """The Deployer for `args.env`, its secrets resolved and masked before anything runs."""
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
        smoke=smoke_command(args),
    )


def smoke_command(args: argparse.Namespace) -> tuple[str, ...]:
    """--smoke split into argv; it must name `{url}`, where the preview URL goes."""
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


def missing_secrets(deployer: Deployer) -> list[str]:
    """The names of the environment's secrets that have no value (for a plan's warning)."""
    return list(resolve_secrets(deployer.env).missing)


def require_secrets(deployer: Deployer) -> None:
    """Stop before anything on the host changes if a secret has no value."""
    resolve_secrets(deployer.env).require(deployer.environment)
