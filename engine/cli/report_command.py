"""`mash report`: management information from the command line (engine/reports).

    mash report contacts --from 2026-11-01 --to 2026-11-30 --format csv > contacts.csv
    mash report contacts --from 2026-11-01 --to 2026-11-30 --format xlsx --output c.xlsx
    mash report timeliness --from 2026-11-01 --to 2026-11-30 [--json]

Whoever runs the command reads the database directly, so the register's names are theirs
to add (`--names`); without it the register identifies children by reference only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import CommandError
from .common import add_database, add_processes, open_engine, print_json


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="first", metavar="DATE",
                        help="first day YYYY-MM-DD (default: 28 days before --to)")
    parser.add_argument("--to", dest="last", metavar="DATE",
                        help="last day YYYY-MM-DD, included (default: today)")
    parser.add_argument("--rag", help="RED, AMBER, GREEN or none (not rated)")
    parser.add_argument("--channel", help="email, phone, portal or ppn")
    parser.add_argument("--outcome", help="an outcome, e.g. s47")
    parser.add_argument("--team", help="the team of a child known to the case records")
    add_processes(parser)
    add_database(parser)


def register(subparsers: Any) -> None:
    report = subparsers.add_parser("report", help="management information: register, timeliness")
    kinds = report.add_subparsers(dest="report", required=True)
    contacts = kinds.add_parser("contacts", help="the contacts register of a period (CSV, XLSX)")
    _period_options(contacts)
    contacts.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
    contacts.add_argument("--output", metavar="FILE", help="write here (default: stdout)")
    contacts.add_argument("--names", action="store_true", help="add children's names")
    contacts.set_defaults(handler=contacts_command)
    timeliness = kinds.add_parser("timeliness", help="deadlines met and how late, outcomes, "
                                                     "open work")
    _period_options(timeliness)
    timeliness.add_argument("--json", action="store_true", help="the dashboard's numbers as JSON")
    timeliness.set_defaults(handler=timeliness_command)


def _chosen(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from engine.reports import ReportError
    from engine.reports.reader import reports_for

    engine = open_engine(args, deploy=False)
    reports = reports_for(engine)
    try:
        period = reports.period(args.first, args.last)
        filters = reports.filters(args.rag, args.channel, args.outcome, args.team)
    except ReportError as err:
        option = {"from": "--from", "to": "--to"}.get(err.field, f"--{err.field}")
        raise CommandError(f"{option}: {err.message}", code=2) from None
    return reports, period, filters


def contacts_command(args: argparse.Namespace) -> int:
    from engine.reports.register import as_csv, as_xlsx

    reports, period, filters = _chosen(args)
    found = reports.register(period, filters, names=args.names)
    if args.format == "json":
        print_json({"period": period.as_dict(), "contacts": found.rows})
        return 0
    content = as_csv(found).encode("utf-8") if args.format == "csv" else as_xlsx(found)
    if args.output:
        try:
            Path(args.output).write_bytes(content)
        except OSError as err:
            raise CommandError(f"cannot write {args.output}: {err.strerror}") from None
        print(f"{len(found.rows)} contacts from {period.first} to {period.last} written to "
              f"{args.output}", file=sys.stderr)
        return 0
    if args.format == "xlsx" and sys.stdout.isatty():
        raise CommandError("an XLSX file is not for the terminal: give --output FILE", code=2)
    sys.stdout.buffer.write(content)
    sys.stdout.flush()
    return 0


def timeliness_command(args: argparse.Namespace) -> int:
    reports, period, filters = _chosen(args)
    data = reports.timeliness(period, filters)
    if args.json:
        print_json(data)
        return 0
    from engine.reports.charts import hours_text

    print(f"Contacts received {period.first} to {period.last}: {data['contacts']['total']} "
          f"({', '.join(f'{k} {v}' for k, v in data['contacts']['by_channel'].items()) or 'none'})")
    print(f"Re-referrals: {data['re_referrals']['count']}")
    for row in data["deadlines"] + data["disagreements"]["deadlines"]:
        share = "-" if row["met_share"] is None else f"{row['met_share']:.0%}"
        late = row["lateness"]
        label = row["deadline"] + (f" ({row['rag']})" if row["rag"] else "")
        print(f"  {label:32} met {row['met']:>5}  missed {row['missed']:>5}  "
              f"{share:>5} met  median late {hours_text(late['median_hours'])}, "
              f"90% within {hours_text(late['p90_hours'])}")
    print("Outcomes: " + ", ".join(f"{o['outcome']} {o['count']}" for o in data["outcomes"]))
    for work in data["open_work"]:
        print(f"  open now: {work['role']}: {work['open']} ({work['overdue']} overdue)")
    return 0
