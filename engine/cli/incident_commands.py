"""`mash incidents` and `mash migrate`: what is stuck, and moving instances to a version
that fixes it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine import incidents, migration

from . import CommandError
from .common import (
    add_database,
    add_json,
    add_processes,
    local,
    open_engine,
    print_json,
    require_deployed,
)


def register(subparsers: Any) -> None:
    listed = subparsers.add_parser(
        "incidents", help="failed steps and undelivered notifications, with what to do",
        description="Every incident, oldest first: the error in words, the element, attempts, "
                    "and what to do (mash retry ID; mash migrate).")
    add_processes(listed)
    add_database(listed)
    add_json(listed)
    listed.set_defaults(handler=incidents_command)

    move = subparsers.add_parser(
        "migrate", help="move running instances to another version",
        description="Move the running instances of a version (or the one given) to another "
                    "version: each waiting task and timer goes to the element of the same id "
                    "(or as --map says); a step that failed runs again there. Refused, listing "
                    "them, where the new version has no element for one.")
    move.add_argument("--process", metavar="ID",
                      help="the process (default: that of --instance)")
    move.add_argument("--from-version", type=int, required=True, metavar="N")
    move.add_argument("--to", type=int, required=True, metavar="M", help="target version")
    move.add_argument("--instance", action="append", metavar="ID",
                      help="only this instance (repeat for several; default: all on version N)")
    move.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                      help="element OLD of version N becomes element NEW of version M")
    move.add_argument("--rearm", action="append", default=[], metavar="TIMER",
                      help="arm this deadline timer of version M again under its rules "
                           "(default: timers keep their due instants)")
    move.add_argument("--drop", action="append", default=[], metavar="EVENT",
                      help="a boundary event of version N (a deadline) that version M no "
                           "longer has: cancel it at the move (default: refused)")
    move.add_argument("--dry-run", action="store_true", help="check the plan, move nothing")
    move.add_argument("--by", default="operator", metavar="NAME", help="who moves them (audit)")
    add_processes(move)
    add_database(move)
    add_json(move)
    move.set_defaults(handler=migrate_command)


def incidents_command(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    require_deployed(engine)
    found = incidents.of(engine)
    if args.json:
        print_json(found)
        return 0
    if not found:
        print("no incidents")
        return 0
    zone = engine.calendar.zone
    for i in found:
        if i["kind"] == "instance":
            where = i["element_id"] or "?"
            if i["element_name"]:
                where += f' "{i["element_name"]}"'
            print(f"instance {i['id']}  {i['process']} v{i['version']}  at {where}")
            print(f"  since {local(i['since'], zone)}, {i['attempts']} attempt(s): {i['error']}")
            print(f"  mash retry {i['id']}   or fix the diagram, deploy, and: mash migrate "
                  f"--process {i['process']} --from-version {i['version']} --to NEW "
                  f"--instance {i['id']}")
        else:
            print(f"notification {i['id']}  {i['notification_kind']}"
                  + (f"  (instance {i['instance_id']})" if i["instance_id"] else ""))
            print(f"  since {local(i['since'], zone)}, {i['attempts']} attempt(s): {i['error']}")
            print(f"  next try {local(i['next_attempt_at'] or i['since'], zone)}; "
                  f"mash retry {i['id']} to try at once")
    return 0


def migrate_command(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    require_deployed(engine)
    process = args.process
    if process is None:
        if not args.instance:
            raise CommandError("give --process ID, or --instance ID", code=2)
        process = _process_of(engine, args.instance[0])
    mapping = {}
    for item in args.map:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise CommandError(f"--map {item!r}: write OLD_ELEMENT=NEW_ELEMENT", code=2)
        mapping[old.strip()] = new.strip()
    plan = migration.Plan(process, args.from_version, args.to, mapping, frozenset(args.rearm),
                          frozenset(args.drop))
    try:
        report = migration.migrate(engine, plan, args.instance, args.by, dry_run=args.dry_run)
    except migration.PlanError as err:
        raise CommandError("nothing was moved:\n  " + "\n  ".join(err.problems)) from None
    if args.json:
        print_json({"process": process, "from_version": plan.source, "to_version": plan.target,
                    "dry_run": report.dry_run, "instances": report.instances,
                    "moved": [m.__dict__ for m in report.moved], "refused": report.refused})
        return 1 if report.refused else 0
    if report.dry_run:
        print(f"the plan holds: {len(report.instances)} instance(s) of {process} "
              f"v{plan.source} would move to v{plan.target}")
        return 0
    for moved in report.moved:
        print(f"{moved.instance_id} moved to v{plan.target}: {moved.state}"
              + (f" ({moved.error})" if moved.error else ""))
    for line in report.refused:
        print(line, file=sys.stderr)
    if not report.moved and not report.refused:
        print(f"no running instance of {process} v{plan.source}")
    return 1 if report.refused else 0


def _process_of(engine: Any, instance_id: str) -> str:
    from engine import queries

    try:
        with engine.store.reading() as conn:
            return str(queries.instance_row(conn, instance_id).process_id)
    except queries.NotFound:
        raise CommandError(f"no instance {instance_id}") from None
