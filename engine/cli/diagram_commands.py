"""`mash validate`, `mash deploy`, `mash versions`: the diagrams and their versions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine import diagrams
from engine.settings import processes_dir

from . import CommandError
from .common import add_database, add_json, add_processes, open_engine, print_json


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate", help="check diagrams and report every problem",
        description="Check BPMN files (or folders of them): XML safety, the BPMN schema, and "
                    "the engine's rules. Lists every problem with file, element and what to do.")
    validate.add_argument("paths", nargs="*", metavar="PATH",
                          help="files or folders (default: the processes folder)")
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
    try:
        found = diagrams.load(paths)
    except diagrams.DiagramError as err:
        for problem in err.problems:
            print(problem)
        noun = "problem" if len(err.problems) == 1 else "problems"
        raise CommandError(f"{len(err.problems)} {noun}; nothing was deployed") from None
    names = ", ".join(sorted(found.models))
    print(f"{len(found.files)} diagram(s) valid: {names}")
    return 0


def deploy_command(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    if not engine.processes.is_dir():
        raise CommandError(f"no processes folder at {engine.processes}; give --processes DIR")
    try:
        results = engine.deploy()
    except diagrams.DiagramError as err:
        raise CommandError(f"not deployed; fix these first:\n{err}") from None
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
    print(f"{'process':24s} {'version':>7s}  {'hash':12s}  {'deployed (UTC)':20s} running")
    for r in rows:
        print(f"{r['process']:24s} {r['version']:>7d}  {r['hash']:12s}  "
              f"{r['deployed_at']:%Y-%m-%d %H:%M:%S}  {r['running']}")
    return 0
