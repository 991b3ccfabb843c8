"""`mash deadline` and `mash hours`: ask the working calendar directly.

For a process owner checking a change to `calendar.toml`, and for anyone asking "when is
this due?" or "who is on duty at 17:05?" without running a process.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import datetime
from typing import Any

from engine.calendar import WorkingCalendar
from engine.calendar_config import CalendarConfigError, calendar_for
from engine.clock import iso_z
from engine.settings import processes_dir

from . import CommandError


def register(subparsers: Any) -> None:
    """Add the calendar commands to the `mash` parser."""
    deadline = subparsers.add_parser(
        "deadline",
        help="when a timescale started at --from runs out",
        description="Print the deadline as one line, ISO 8601 in UTC, e.g. 2026-11-30T10:45:00Z.",
    )
    rule = deadline.add_mutually_exclusive_group(required=True)
    rule.add_argument(
        "--working-hours",
        type=_hours,
        metavar="N",
        help="N hours counted only inside Hub hours (0.5 allowed)",
    )
    rule.add_argument(
        "--working-days",
        type=_days,
        metavar="N",
        help="the Hub's closing time on the N-th working day after the start day",
    )
    rule.add_argument("--hours", type=_hours, metavar="N", help="N elapsed hours, any day")
    deadline.add_argument(
        "--from",
        dest="since",
        type=_instant,
        required=True,
        metavar="ISO8601",
        help="start, with an offset or Z",
    )
    _processes_option(deadline)
    deadline.set_defaults(handler=deadline_command)

    hours = subparsers.add_parser(
        "hours",
        help="whether the Hub or the Out of Hours service is on duty at an instant",
        description="Say whether the Hub is open and whether Out of Hours is on duty.",
    )
    hours.add_argument(
        "--at",
        type=_instant,
        required=True,
        metavar="ISO8601",
        help="the instant, with an offset or Z",
    )
    hours.add_argument(
        "--json", action="store_true", help='print {"at", "hub_open", "out_of_hours"} as JSON'
    )
    _processes_option(hours)
    hours.set_defaults(handler=hours_command)


def deadline_command(args: argparse.Namespace) -> int:
    calendar = _calendar(args)
    try:
        if args.working_hours is not None:
            due = calendar.working_hours(args.working_hours, args.since)
        elif args.working_days is not None:
            due = calendar.working_days(args.working_days, args.since)
        else:
            due = calendar.hours(args.hours, args.since)
    except (ValueError, OverflowError) as err:  # e.g. a deadline beyond the year 9999
        raise CommandError(f"no deadline: {err}", code=2) from err
    print(iso_z(due))
    return 0


def hours_command(args: argparse.Namespace) -> int:
    calendar = _calendar(args)
    at: datetime = args.at
    hub_open = calendar.is_hub_open(at)
    out_of_hours = calendar.is_out_of_hours(at)
    if args.json:
        print(json.dumps({"at": iso_z(at), "hub_open": hub_open, "out_of_hours": out_of_hours}))
        return 0
    if hub_open:
        print(f"First Response Hub: open until {iso_z(calendar.closing_time(at))}")
    if out_of_hours:
        print("Out of Hours service: on duty")
    if not hub_open:
        who = "" if out_of_hours else "Neither service is on duty; "
        print(f"{who}First Response Hub: closed, opens {iso_z(calendar.next_opening(at))}")
    return 0


def _processes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--processes",
        metavar="DIR",
        help="folder of diagrams and calendar.toml (default: $MASH_PROCESSES)",
    )


def _calendar(args: argparse.Namespace) -> WorkingCalendar:
    try:
        return calendar_for(processes_dir(args.processes))
    except CalendarConfigError as err:
        raise CommandError(str(err), code=2) from err


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: hours must be zero or more")
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: days must be zero or more")
    return value


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date and time, e.g. 2026-11-27T15:00:00Z"
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add Z or an offset such as +00:00"
        )
    return at
