"""The `gangway` command line: the parser, and the one handler that maps errors to exit codes.

Each subcommand family is a module of this package with a `register(commands, common)`;
what several of them share lives in `gangway.cli.common`, and none imports another.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from gangway import __version__
from gangway.cli import config, db, deploy, pipeline, scan
from gangway.errors import DeployFailed, GangwayError
from gangway.masking import redact

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
    args.trace = getattr(args, "trace", False)
    if args.trace:
        # Through the environment, so the gangway processes this one starts trace too.
        os.environ["GANGWAY_TRACE"] = "1"
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
    common.add_argument(
        "--trace",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print every command gangway runs to stderr before it runs, secrets masked "
        "(sets GANGWAY_TRACE=1 for this run and the processes it starts)",
    )
    parser = argparse.ArgumentParser(
        prog="gangway",
        description="A deployment pipeline as code: test, build, scan, deploy blue-green.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"gangway {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    config.register(commands, common)
    deploy.register(commands, common)
    db.register(commands, common)
    scan.register(commands, common)
    pipeline.register(commands, common)
    return parser
