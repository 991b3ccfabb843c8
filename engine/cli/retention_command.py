"""`mash retention [--dry-run]`: apply the retention schedule (processes/retention.toml) now."""

from __future__ import annotations

import argparse
from typing import Any
from zoneinfo import ZoneInfo

from engine.clock import SystemClock
from engine.settings import database_url, processes_dir

from . import CommandError
from .common import add_database, add_json, add_processes, local, print_json


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "retention", help="remove personal data past processes/retention.toml",
        description="Remove the personal data of ended cases past the council's retention "
                    "schedule (processes/retention.toml); the service does it once a day.")
    command.add_argument("--dry-run", action="store_true",
                         help="only list the cases that would be anonymised; change nothing")
    add_processes(command)
    add_database(command)
    add_json(command)
    command.set_defaults(handler=retention_command)


def retention_command(args: argparse.Namespace) -> int:
    from engine.retention import RetentionConfigError, apply, load_schedule
    from engine.store import Store

    processes = processes_dir(args.processes)
    if not processes.is_dir():
        raise CommandError(f"no processes folder at {processes}; give --processes DIR", code=2)
    try:
        schedule = load_schedule(processes)
    except RetentionConfigError as err:
        raise CommandError(str(err), code=2) from None
    if schedule.default_years is None:
        raise CommandError(f"no retention schedule: {schedule.source} does not exist, so no "
                           "personal data is removed; write one (see the repository's "
                           "processes/retention.toml)")
    store = Store(database_url(args.database))
    store.create()
    report = apply(store, schedule, SystemClock().now(), dry_run=args.dry_run,
                   actor="mash retention")
    if args.json:
        print_json({"dry_run": report.dry_run, "run_id": report.run_id, "counts": report.counts,
                    "instances": [c.__dict__ for c in report.due]})
        return 0
    zone = ZoneInfo("Europe/London")
    verb = "would anonymise" if report.dry_run else "anonymised"
    for case in report.due:
        print(f"{case.instance_id}  {case.process_id}  outcome {case.outcome or '-'}  ended "
              f"{local(case.ended_at, zone)}  ({case.rule})")
    print(f"{verb} {len(report.due)} case{'s' if len(report.due) != 1 else ''}"
          + ("" if report.dry_run else f"; run {report.run_id} recorded; rows changed: "
             + (", ".join(f"{t} {n}" for t, n in sorted(report.counts.items())) or "none")))
    return 0
