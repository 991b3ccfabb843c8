"""`mash start`, `tasks`, `complete`, `show`, `retry`: instances and people's tasks."""

from __future__ import annotations

import argparse
from typing import Any

from engine import queries
from engine.deployments import UnknownProcess
from engine.service import Conflict, Forbidden, FormRejected, NotFound

from . import CommandError
from .common import (
    add_database,
    add_json,
    add_processes,
    local,
    open_engine,
    print_json,
    read_json_file,
    require_deployed,
)


def _common(parser: argparse.ArgumentParser) -> None:
    add_processes(parser)
    add_database(parser)
    add_json(parser)


def register(subparsers: Any) -> None:
    start = subparsers.add_parser("start", help="start an instance of a process")
    start.add_argument("process", help="process id, e.g. first_response, escalation")
    start.add_argument("--data", required=True, metavar="FILE", help="JSON start data (- for stdin)")
    start.add_argument("--by", default="cli", metavar="NAME", help="who starts it (audit)")
    _common(start)
    start.set_defaults(handler=start_command)

    tasks = subparsers.add_parser("tasks", help="list open tasks, soonest due first")
    tasks.add_argument("--role", help="only this role's tasks (a lane name)")
    _common(tasks)
    tasks.set_defaults(handler=tasks_command)

    complete = subparsers.add_parser("complete", help="complete a person's task")
    complete.add_argument("task", help="task id (from `mash tasks`)")
    complete.add_argument("--data", required=True, metavar="FILE",
                          help="JSON object of form field: value (- for stdin)")
    complete.add_argument("--by", required=True, metavar="NAME", help="who completed it")
    complete.add_argument("--override-claim", action="store_true",
                          help="complete it although someone else has claimed it")
    _common(complete)
    complete.set_defaults(handler=complete_command)

    show = subparsers.add_parser("show", help="an instance: state, tasks, deadlines, history")
    show.add_argument("instance")
    _common(show)
    show.set_defaults(handler=show_command)

    retry = subparsers.add_parser(
        "retry", help="retry a failed step or an undelivered notification now")
    retry.add_argument("instance", metavar="ID", help="an instance or notification id "
                                                      "(from `mash incidents`)")
    retry.add_argument("--by", default="operator", metavar="NAME")
    _common(retry)
    retry.set_defaults(handler=retry_command)


def start_command(args: argparse.Namespace) -> int:
    data = read_json_file(args.data, "start data")
    if not isinstance(data, dict):
        raise CommandError("the start data must be a JSON object")
    engine = open_engine(args)
    require_deployed(engine)
    about = data.get("about") if isinstance(data.get("about"), str) else None
    try:
        instance_id, advance = engine.start(args.process, data, args.by, about=about)
    except UnknownProcess:
        known = ", ".join(sorted({r["process"] for r in engine.deployments.versions()}))
        raise CommandError(f"no process {args.process!r}; deployed: {known}") from None
    if args.json:
        print_json({"id": instance_id, "state": advance.state, "outcome": advance.outcome,
                    "open_tasks": [t.__dict__ for t in advance.open_tasks]})
    else:
        print(f"{instance_id} {advance.state}" + (f" ({advance.outcome})" if advance.outcome else ""))
        for task in advance.open_tasks:
            print(f"  open task {task.id}: {task.name} [{task.role}]")
    return 0


def tasks_command(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    require_deployed(engine)
    with engine.store.reading() as conn:
        found = queries.open_tasks(conn, {args.role} if args.role else None)
    if args.json:
        print_json(found)
        return 0
    if not found:
        print("no open tasks" + (f" for {args.role}" if args.role else ""))
        return 0
    zone = engine.calendar.zone
    for task in found:
        flags = f" flags: {', '.join(task['flags'])}" if task["flags"] else ""
        print(f"{task['id']}  due {local(task['due'], zone):22s} {task['role']}: {task['name']}"
              f"{' RAG ' + task['rag'] if task['rag'] else ''}{flags}")
    return 0


def complete_command(args: argparse.Namespace) -> int:
    values = read_json_file(args.data, "task data")
    engine = open_engine(args)
    require_deployed(engine)
    from engine.api.auth import Caller
    from engine.api.claims import ClaimRefused, hold

    # A claim reserves a task here as on the web and the API (engine/api/claims.py).
    within = None if args.override_claim else hold(
        args.task, Caller(0, args.by, frozenset()), engine.clock.now())
    try:
        done = engine.complete(args.task, values, args.by, within=within)
    except ClaimRefused as err:
        raise CommandError(f"task {args.task} {err.message}; give --override-claim to complete "
                           "it anyway") from None
    except FormRejected as err:
        raise CommandError("the form was refused: " + "; ".join(
            f"{e['field']} {e['message']}" for e in err.errors)) from None
    except NotFound:
        raise CommandError(f"no task {args.task}; see `mash tasks`") from None
    except (Conflict, Forbidden) as err:
        raise CommandError(str(err)) from None
    if args.json:
        print_json({"instance_id": done.instance_id, "state": done.state})
    else:
        print(f"{done.instance_id} {done.state}")
    return 0


def show_command(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    require_deployed(engine)
    try:
        with engine.store.reading() as conn:
            view = queries.instance_view(conn, args.instance)
    except queries.NotFound:
        raise CommandError(f"no instance {args.instance}") from None
    if args.json:
        print_json(view)
        return 0
    zone = engine.calendar.zone
    print(f"{view['id']}  {view['process']} v{view['version']}  {view['state']}"
          + (f"  outcome {view['outcome']}" if view["outcome"] else "")
          + (f"  RAG {view['rag']}" if view["rag"] else ""))
    if view["error"]:
        print(f"  error: {view['error']}")
    if view["flags"]:
        print(f"  flags: {', '.join(view['flags'])}")
    for task in view["open_tasks"]:
        print(f"  open task {task['id']}: {task['name']} [{task['role']}] due {local(task['due'], zone)}")
    for d in view["deadlines"]:
        state = "met" if d["met"] else "BREACHED" if d["met"] is False else "open"
        print(f"  deadline {d['name']}: due {local(d['due'], zone)}, {state}"
              + (f", done {local(d['done_at'], zone)}" if d["done_at"] else ""))
    for n in view["notifications"]:
        print(f"  notification {n['kind']} to {n['to']} at {local(n['sent_at'], zone)}")
    for h in view["history"]:
        what = h["element_name"] or h["element_id"] or ""
        if h["action"] == "migrated" and h["changes"]:  # who moved it, from, to, as mapped
            moved = h["changes"]
            what = f"v{moved['from_version']} -> v{moved['to_version']}" + "".join(
                f" {old}={new}" for old, new in sorted(moved.get("instructions", {}).items())) \
                + "".join(f" rearm {t}" for t in moved.get("rearmed", [])) \
                + "".join(f" drop {t}" for t in moved.get("dropped", []))
        print(f"  {local(h['at'], zone)}  {h['actor']:10s} {h['action']:18s} {what}")
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """An instance in incident runs its failed step again now; an undelivered notification
    is tried again at the mailer's next round."""
    from engine.incidents import retry_notification

    engine = open_engine(args)
    require_deployed(engine)
    if retry_notification(engine.store, args.instance):
        print(f"notification {args.instance} will be tried again at once")
        return 0
    try:
        state = engine.retry(args.instance, args.by)
    except NotFound:
        raise CommandError(f"no instance or undelivered notification {args.instance}") from None
    print(f"{args.instance} {state}")
    return 0
