"""The `gangway` command line: argparse subcommands and the one handler that maps errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import tomli_w

from gangway import __version__
from gangway.config import (
    ENVIRONMENT_NAMES,
    PipelineConfig,
    config_document,
    load_config,
    render_reference,
)
from gangway.errors import ConfigError, ConfigProblem, DeployFailed, GangwayError, ValueSource
from gangway.masking import redact
from gangway.release import cli as release_cli
from gangway.release import db_cli
from gangway.scan import cli as scan_cli
from gangway.stages import cli as stages_cli

EXIT_UNEXPECTED: Final = 70  # EX_SOFTWARE: a bug in gangway, not in the user's input
EXIT_INTERRUPTED: Final = 130

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one gangway command and return its exit code (the console script's entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # The global options default to SUPPRESS so that, given before or after the command
    # name, neither placement overwrites the other; fill them in here.
    args.config = getattr(args, "config", None)
    args.verbose = getattr(args, "verbose", False)
    command: Command = args.command
    try:
        return command(args)
    except GangwayError as exc:
        if args.verbose:
            traceback.print_exc()
        if isinstance(exc, DeployFailed) and exc.logs:
            print("--- last log lines of the failed release ---", file=sys.stderr)
            print(redact(exc.logs), file=sys.stderr)
            print("---", file=sys.stderr)
        for line in exc.lines():
            print(f"error: {redact(line)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our output went away (`gangway plan | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into a message
        if args.verbose:
            traceback.print_exc()
        print(
            f"error: unexpected {type(exc).__name__}: {redact(str(exc))}; this is a bug in "
            "gangway, please report it (run with --verbose for the traceback)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def build_parser() -> argparse.ArgumentParser:
    """The parser: global options, then one subparser per command."""
    # The global options are accepted before and after the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="pipeline.toml to use (default: $GANGWAY_CONFIG or ./pipeline.toml)",
    )
    common.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and more detail",
    )
    parser = argparse.ArgumentParser(
        prog="gangway",
        description="A deployment pipeline as code: test, build, scan, deploy blue-green.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"gangway {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

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
    release_cli.register(commands, common)
    db_cli.register(commands, common)
    scan_cli.register(commands, common)
    stages_cli.register(commands, common)
    return parser


def config_path(args: argparse.Namespace) -> Path:
    """The config file: --config, else $GANGWAY_CONFIG, else ./pipeline.toml."""
    if args.config is not None:
        return Path(args.config)
    return Path(os.environ.get("GANGWAY_CONFIG") or "pipeline.toml")


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
