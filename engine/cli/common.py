"""What several commands share: the processes folder, the database, an engine on them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.clock import SystemClock
from engine.settings import database_url, processes_dir

from . import CommandError

# The same words wherever the processes folder or the database is offered (engine/settings.py
# decides; the README and docs/ say it the same way).
PROCESSES_DEFAULT = "$MASH_PROCESSES, else ./processes, else the repository's own"
DATABASE_DEFAULT = "$MASH_DATABASE_URL, else the SQLite file ./mash.sqlite"


def add_processes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", metavar="DIR",
                        help="the folder of diagrams and their configuration (default: "
                             f"{PROCESSES_DEFAULT})")


def add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", metavar="URL",
                        help=f"sqlite:///FILE or postgresql://... (default: {DATABASE_DEFAULT})")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for a program to read")


def open_engine(args: argparse.Namespace, deploy: bool = False) -> Any:
    """An engine on the system clock over what is deployed in the database. Nothing here
    deploys (`deploy=True` is for `mash deploy` alone): a local edit of processes/ changes
    nothing until then, and a folder that does not validate stops nobody reading or working."""
    from engine.service import Engine
    from engine.store import Store

    processes = processes_dir(getattr(args, "processes", None))
    store = Store(database_url(getattr(args, "database", None)))
    store.create()
    engine = Engine(store, SystemClock(), processes)
    if deploy:
        engine.deploy()
    return engine


def require_deployed(engine: Any) -> None:
    """Refuse, saying what to do, when the database has nothing deployed yet."""
    if not engine.deployments.anything_deployed():
        raise CommandError("nothing is deployed in this database yet; run `mash deploy` "
                           "(it deploys the processes folder)")


def read_json_file(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot read {what} {path}: {err.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CommandError(f"{what} {path} is not JSON: {err.msg} at line {err.lineno}") from None


def print_json(value: Any) -> None:
    from engine.queries import jsonable

    print(json.dumps(jsonable(value), indent=2))


LONDON = ZoneInfo("Europe/London")


def local(value: datetime | None, zone: Any = LONDON) -> str:
    """An instant as people at the Hub read it: their wall clock (the calendar's time zone,
    Europe/London), e.g. "Mon 30 Nov 2026 10:45". `--json` gives UTC instead."""
    if value is None:
        return "-"
    return value.astimezone(zone).strftime("%a %d %b %Y %H:%M")


def local_time(value: datetime, zone: Any = LONDON) -> str:
    """The time of day alone, "17:15", for an instant on the day being talked about."""
    return value.astimezone(zone).strftime("%H:%M")


__all__ = ["Path"]
