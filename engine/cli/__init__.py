"""`mash`: the command line. Thin: each command group lives in its own module and calls the
service layer; errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; we print one line naming what is wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"mash {self.prog.split(' ', 1)[-1]}: {message} (see --help)\n"
                  if " " in self.prog else f"mash: {message} (see --help)\n")


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from . import (
        calendar_commands,
        diagram_commands,
        incident_commands,
        instance_commands,
        report_command,
        retention_command,
        serve_commands,
        simulate_command,
    )

    parser = OneLineParser(
        prog="mash", description="mash: the workflow engine of the children's front door. "
        "Diagrams in ./processes (or --processes, $MASH_PROCESSES); the database from "
        "--database or $MASH_DATABASE_URL (an SQLite file ./mash.sqlite by default).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for module in (diagram_commands, instance_commands, simulate_command, serve_commands,
                   calendar_commands, report_command, retention_command, incident_commands):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CommandError as err:
        print(f"mash {args.command}: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mash ... | head`: the reader has gone; that is fine
        sys.stderr.close()
        return 0
