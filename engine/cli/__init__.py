"""`mash`: the command line. Thin: each command group lives in its own module and calls the
service layer; errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn


class Formatter(argparse.HelpFormatter):
    """argparse's, with room for a command's name before its one-line help: it sizes that
    column by the options alone, so a command name longer than `--help` wraps its line."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog)
        self._action_max_length = 14  # (private, but argparse has kept it for a decade)


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; we print one line naming what is wrong."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

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
    from .common import DATABASE_DEFAULT, PROCESSES_DEFAULT

    parser = OneLineParser(
        prog="mash", description="mash: the workflow engine of the children's front door. "
        f"The diagrams: --processes DIR (default: {PROCESSES_DEFAULT}); the database: "
        f"--database URL (default: {DATABASE_DEFAULT}).",
        epilog="Times are shown in the Hub's local time (Europe/London); --json gives them in "
               "UTC. `mash COMMAND --help` says more about each.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser,
                                title="commands", metavar="COMMAND")
    for module in (diagram_commands, instance_commands, simulate_command, serve_commands,
                   calendar_commands, report_command, retention_command, incident_commands):
        module.register(sub)
    described(parser)
    return parser


def described(parser: argparse.ArgumentParser) -> None:
    """Each command's own --help opens with its one line when it has no longer description;
    a group of commands (token, report) names them COMMAND as the top level does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.metavar = action.metavar or "COMMAND"
            lines = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                line = lines.get(name, "")
                if child.description is None and line:
                    child.description = line[:1].upper() + line[1:] + "."
                described(child)


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
