"""`mash simulate`: what a diagram change does to timescales, before it is deployed."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.settings import processes_dir

from . import CommandError
from .common import add_processes


def register(subparsers: Any) -> None:
    simulate = subparsers.add_parser(
        "simulate", help="replay a scenario on a virtual clock",
        description="Run a scenario (docs/scenarios.md) through the real diagrams, handlers and "
                    "engine on a virtual clock and report outcomes, deadlines and workload. "
                    "Or write a synthetic scenario with --generate.")
    simulate.add_argument("scenario", nargs="?", help="scenario file (JSON or YAML)")
    add_processes(simulate)
    simulate.add_argument("--database", metavar="URL",
                          help="keep the run in this database (default: a temporary SQLite file)")
    simulate.add_argument("--json", action="store_true", help="print the report as one JSON document")
    simulate.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    simulate.add_argument("--compare", metavar="DIR",
                          help="run the same scenario on this other set of diagrams and compare")
    simulate.add_argument("--generate", type=int, metavar="N",
                          help="write a synthetic scenario of N contacts to stdout")
    simulate.add_argument("--seed", type=int, default=1, help="with --generate (default 1)")
    simulate.add_argument("--from", dest="start", metavar="DATE", help="with --generate: first day")
    simulate.add_argument("--days", type=int, default=7, help="with --generate (default 7)")
    simulate.set_defaults(handler=simulate_command)


def simulate_command(args: argparse.Namespace) -> int:
    if args.generate is not None:
        return _generate(args)
    if not args.scenario:
        raise CommandError("give a scenario file, or --generate N", code=2)
    from engine.simulation.scenario import ScenarioError, load

    try:
        scenario = load(Path(args.scenario))
    except ScenarioError as err:
        raise CommandError(str(err)) from None
    first = processes_dir(args.processes)
    reports = [_run(scenario, first, args.database, args, str(first))]
    if args.compare:
        reports.append(_run(scenario, Path(args.compare), None, args, args.compare))
    if args.html:
        from engine.simulation.present import html_comparison, html_report

        page = html_comparison(reports[0], reports[1], str(first), args.compare, first,
                               Path(args.compare)) if args.compare else \
            html_report(reports[0], name=str(first), processes=first)
        try:
            Path(args.html).write_text(page, encoding="utf-8")
        except OSError as err:
            raise CommandError(f"cannot write {args.html}: {err.strerror}") from None
    if args.json:
        document: Any = reports[0] if not args.compare else {
            "format": 1, "compare": {str(first): reports[0], args.compare: reports[1]}}
        json.dump(document, sys.stdout, indent=1)
        print()
        return 0
    from engine.simulation.present import print_comparison, print_summary

    console = Console()
    print_summary(reports[0], console, f"Simulation: {first}")
    if args.compare:
        print_summary(reports[1], console, f"Simulation: {args.compare}")
        print_comparison(reports[0], reports[1], str(first), args.compare, console)
    if args.html:
        console.print(f"HTML report: {args.html}")
    return 0


def _run(scenario: Any, processes: Path, database: str | None, args: argparse.Namespace,
         label: str) -> dict[str, Any]:
    from engine.simulation.parallel import report
    from engine.simulation.scenario import ScenarioError

    if not processes.is_dir():
        raise CommandError(f"no processes folder at {processes}")
    total = len(scenario.contacts) + len(scenario.disagreements)
    show = not args.json and total >= 50 and sys.stderr.isatty()
    with Progress(TextColumn(f"simulating {label}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=not show) as bar:
        task = bar.add_task("run", total=total)
        try:
            return report(scenario, processes, database,
                          progress=lambda done, _: bar.update(task, completed=done))
        except ScenarioError as err:
            raise CommandError(str(err)) from None


def _generate(args: argparse.Namespace) -> int:
    from engine.simulation.generate import generate

    if not args.start:
        raise CommandError("--generate needs --from DATE (YYYY-MM-DD)", code=2)
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        raise CommandError(f"--from {args.start!r} is not a date YYYY-MM-DD", code=2) from None
    if args.generate < 0 or args.days < 1:
        raise CommandError("--generate N needs N >= 0 and --days D >= 1", code=2)
    from engine.simulation.generate import fill_unknown

    document = generate(args.generate, args.seed, start, args.days)
    processes = processes_dir(args.processes)
    if processes.is_dir():
        try:
            filled = fill_unknown(document, processes, start)
        except Exception as err:  # diagrams that do not load: the scenario is still written
            filled = []
            print(f"mash simulate: warning: could not read the forms in {processes}: {err}",
                  file=sys.stderr)
        if filled:
            print("mash simulate: warning: --generate does not know these fields of the "
                  "diagrams' forms and gave every contact a default from the form (change them "
                  "under \"defaults\" in the scenario):\n  " + "\n  ".join(filled),
                  file=sys.stderr)
    json.dump(document, sys.stdout, indent=1)
    print()
    return 0
