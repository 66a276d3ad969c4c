"""`gangway config`: validate pipeline.toml and print it resolved, or print its reference."""

from __future__ import annotations

import argparse
import json
import sys

import tomli_w

from gangway.cli.common import Subcommands, config_path
from gangway.config import (
    ENVIRONMENT_NAMES,
    PipelineConfig,
    config_document,
    load_config,
    render_reference,
)
from gangway.errors import ConfigError, ConfigProblem, ValueSource


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add the `config` subcommand to the `gangway` parser."""
    config = commands.add_parser(
        "config",
        parents=[common],
        help="validate pipeline.toml and print the resolved configuration",
        description="Validate pipeline.toml with its overrides (GANGWAY_* variables, secret "
        "files, the air-gapped profile) and print the result, secrets redacted.",
    )
    config.add_argument("--env", metavar="ENV", help="print only this environment's section")
    output = config.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    output.add_argument(
        "--reference",
        action="store_true",
        help="print the Markdown reference of pipeline.toml (needs no config file)",
    )
    config.set_defaults(command=run_config)


def run_config(args: argparse.Namespace) -> int:
    """`gangway config`: print the resolved configuration or the reference."""
    if args.reference:
        sys.stdout.write(render_reference())
        return 0
    path = config_path(args)
    config = load_config(path)
    if args.env is not None and args.env not in ENVIRONMENT_NAMES:
        raise ConfigError(
            [
                ConfigProblem(
                    f"unknown environment; available: {', '.join(ENVIRONMENT_NAMES)}",
                    file=str(path),
                    key="environments",
                    value=args.env,
                    source=ValueSource("override", "--env"),
                )
            ]
        )
    document = config_document(config, environment=args.env, json_compatible=args.json)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        sys.stdout.write(f"# {describe_origin(config)}\n" + tomli_w.dumps(document))
    return 0


def describe_origin(config: PipelineConfig) -> str:
    """One line naming the file and the override layers (names only, never values)."""
    origin = config.origin
    if origin is None:
        return "built in code"
    text = f"resolved from {origin.file}"
    if origin.overrides:
        text += ", overridden by " + ", ".join(source.describe() for source in origin.overrides)
    return text
