"""`mash validate`, `mash deploy`, `mash versions`: the diagrams and their versions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine import checking, diagrams
from engine.settings import processes_dir

from . import CommandError
from .common import add_database, add_json, add_processes, local, open_engine, print_json


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate", help="check the diagrams and list every problem",
        description="Check BPMN and DMN files (or folders of them) and the calendar and "
                    "directory beside them: XML safety, the schemas, the engine's rules, the "
                    "names every expression reads, then a dry run of every diagram on a "
                    "throwaway database. Lists every problem with file, element (or line) and "
                    "what to do; warnings are listed but do not fail.")
    validate.add_argument("paths", nargs="*", metavar="PATH",
                          help="files or folders (default: the processes folder)")
    validate.add_argument("--no-dry-run", action="store_true",
                          help="only the checks of the files (quick, while drawing); a deploy "
                               "always runs the dry run")
    add_processes(validate)
    validate.set_defaults(handler=validate_command)

    deploy = subparsers.add_parser("deploy", help="deploy the processes folder as new versions")
    add_processes(deploy)
    add_database(deploy)
    add_json(deploy)
    deploy.set_defaults(handler=deploy_command)

    versions = subparsers.add_parser("versions", help="list deployed versions of each process")
    add_processes(versions)
    add_database(versions)
    add_json(versions)
    versions.set_defaults(handler=versions_command)


def validate_command(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or [processes_dir(args.processes)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(missing)}", code=2)
    report = checking.check(paths, run=not args.no_dry_run)
    for problem in report.errors + report.warnings:
        print(problem)
    if report.errors:
        noun = "problem" if len(report.errors) == 1 else "problems"
        raise CommandError(f"{len(report.errors)} {noun}; nothing was deployed")
    assert report.diagrams is not None
    found = report.diagrams
    names = ", ".join(sorted(found.models))
    bpmn = sum(1 for name in found.files if name.endswith(".bpmn"))
    print(f"{bpmn} diagram(s) valid: {names}"
          + (f"; {len(found.decisions)} decision(s): {', '.join(sorted(found.decisions))}"
             if found.decisions else ""))
    for line in decision_uses(found):
        print(line)
    if report.dry_run is not None:
        print(report.dry_run.summary())
    else:
        print("the dry run was not run (--no-dry-run)")
    if report.warnings:
        print(f"{len(report.warnings)} warning(s)")
    return 0


def decision_uses(found: diagrams.DiagramSet) -> list[str]:
    """Where each decision table is and which steps run it: a process owner changing a table
    (the RAG timescale, say) sees every pathway the change reaches."""
    runs: dict[str, list[str]] = {}
    for root in found.trees.values():
        for process in root.iter(f"{diagrams.BPMN}process"):
            for task in process.iter(f"{diagrams.BPMN}businessRuleTask"):
                ref = task.get(f"{diagrams.CAMUNDA}decisionRef")
                if ref:
                    runs.setdefault(ref, []).append(f"{process.get('id')} ({task.get('id')})")
    return [f"decision {decision_id} ({found.shown(decision.file)}): run by "
            + (", ".join(sorted(runs[decision_id])) if runs.get(decision_id) else "no process")
            for decision_id, decision in sorted(found.decisions.items())]


def deploy_command(args: argparse.Namespace) -> int:
    processes = processes_dir(args.processes)
    if not processes.is_dir():
        raise CommandError(f"no processes folder at {processes}; give --processes DIR")
    try:  # what `mash validate` checks, the dry run included, before the database is opened
        checking.checked([processes], processes)
        results, warnings = checking.deploy(open_engine(args), [processes])
    except checking.NotDeployed as err:
        raise CommandError(f"not deployed; fix these first:\n{err}") from None
    for warning in warnings:
        print(warning, file=sys.stderr)
    if args.json:
        print_json([r.__dict__ for r in results])
        return 0
    for r in results:
        state = "new version" if r.new else "unchanged"
        print(f"{r.process_id:24s} version {r.version:<4d} {state} ({r.hash[:12]})")
    return 0


def versions_command(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    rows = engine.deployments.versions()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("nothing deployed yet; run `mash deploy`")
        return 0
    print(f"{'process':24s} {'version':>7s}  {'hash':12s}  {'deployed':21s} running")
    for r in rows:
        print(f"{r['process']:24s} {r['version']:>7d}  {r['hash']:12s}  "
              f"{local(r['deployed_at']):21s} {r['running']}")
    return 0
