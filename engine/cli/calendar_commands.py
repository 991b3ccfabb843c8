"""`mash deadline` and `mash hours`: ask the working calendar directly.

For a process owner checking a change to `calendar.toml`, and for anyone asking "when is
this due?" or "who is on duty at 17:05?" without running a process. Answers are in the
Hub's local time (Europe/London, as `calendar.toml` says); `--json` gives UTC.
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

from ..clock import SystemClock
from . import CommandError
from .common import add_processes, local, local_time


def register(subparsers: Any) -> None:
    """Add the calendar commands to the `mash` parser."""
    deadline = subparsers.add_parser(
        "deadline",
        help="when a timescale started at --from runs out",
        description="Print when a timescale started at --from runs out, in the Hub's local time "
        "(e.g. Mon 30 Nov 2026 10:45), by processes/calendar.toml; --json gives it in UTC.",
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
        default=None,
        metavar="ISO8601",
        help="start, with an offset or Z (default: now)",
    )
    deadline.add_argument(
        "--json", action="store_true", help='print {"from", "rule", "due"} as JSON, in UTC'
    )
    add_processes(deadline)
    deadline.set_defaults(handler=deadline_command)

    hours = subparsers.add_parser(
        "hours",
        help="who is on duty at an instant: the Hub, Out of Hours",
        description="Say whether the Hub is open (until when, or when it opens) and whether the "
        "Out of Hours service is on duty, in the Hub's local time; --json gives UTC.",
    )
    hours.add_argument(
        "--at",
        type=_instant,
        default=None,
        metavar="ISO8601",
        help="the instant, with an offset or Z (default: now)",
    )
    hours.add_argument(
        "--json",
        action="store_true",
        help='print {"at", "hub_open", "out_of_hours", "closes", "opens"} as JSON, in UTC',
    )
    add_processes(hours)
    hours.set_defaults(handler=hours_command)


def deadline_command(args: argparse.Namespace) -> int:
    calendar = _calendar(args)
    if args.since is None:
        args.since = SystemClock().now()
    try:
        if args.working_hours is not None:
            due = calendar.working_hours(args.working_hours, args.since)
        elif args.working_days is not None:
            due = calendar.working_days(args.working_days, args.since)
        else:
            due = calendar.hours(args.hours, args.since)
    except (ValueError, OverflowError) as err:  # e.g. a deadline beyond the year 9999
        raise CommandError(f"no deadline: {err}", code=2) from err
    if args.json:
        print(json.dumps({"from": iso_z(args.since), "rule": _rule(args), "due": iso_z(due)}))
        return 0
    print(local(due, calendar.zone))
    return 0


def _rule(args: argparse.Namespace) -> str:
    """The rule as a diagram writes it, e.g. working_hours(4)."""
    for name in ("working_hours", "working_days", "hours"):
        value = getattr(args, name)
        if value is not None:
            return f"{name}({value:g})"
    raise AssertionError("argparse requires one rule")


def hours_command(args: argparse.Namespace) -> int:
    calendar = _calendar(args)
    at: datetime = args.at if args.at is not None else SystemClock().now()
    hub_open = calendar.is_hub_open(at)
    out_of_hours = calendar.is_out_of_hours(at)
    closes = calendar.closing_time(at) if hub_open else None
    opens = None if hub_open else calendar.next_opening(at)
    if args.json:
        print(json.dumps({"at": iso_z(at), "hub_open": hub_open, "out_of_hours": out_of_hours,
                          "closes": iso_z(closes) if closes else None,
                          "opens": iso_z(opens) if opens else None}))
        return 0
    zone = calendar.zone
    print(f"At {local(at, zone)} (Hub time):")
    if closes is not None:
        print(f"First Response Hub: open until {local_time(closes, zone)}")
    if out_of_hours:
        print("Out of Hours service: on duty")
    if opens is not None:
        who = "" if out_of_hours else "Neither service is on duty; "
        print(f"{who}First Response Hub: closed, opens {_day_and_time(opens, at, zone)}")
    return 0


def _day_and_time(when: datetime, now: datetime, zone: Any) -> str:
    """"08:30" later the same day, "Mon 30 Nov 2026 08:30" on another."""
    same_day = when.astimezone(zone).date() == now.astimezone(zone).date()
    return local_time(when, zone) if same_day else local(when, zone)


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
