"""`mash serve` and `mash token create`."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from engine.clock import SystemClock, as_utc
from engine.settings import database_url, processes_dir

from . import CommandError
from .common import add_database, add_processes


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the engine as a service with its HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--virtual-clock", metavar="ISO8601",
                       help="start a virtual clock at this instant (training, demos, tests); "
                            "POST /clock/advance moves it")
    serve.add_argument("--deploy", action="store_true",
                       help="deploy the processes folder before serving (without it, serve "
                            "deploys only into a database with nothing deployed; `mash deploy` "
                            "deploys, and a running service takes it up)")
    add_processes(serve)
    add_database(serve)
    serve.set_defaults(handler=serve_command)

    token = subparsers.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token; prints it on the last line")
    create.add_argument("--role", action="append", required=True, metavar="ROLE",
                        help="a role (lane name) or admin; repeat for several")
    create.add_argument("--name", default="token", metavar="LABEL", help="who or what uses it")
    add_database(create)
    create.set_defaults(handler=token_create_command)


def serve_command(args: argparse.Namespace) -> int:
    from engine.diagrams import DiagramError
    from engine.serve import serve

    start = None
    if args.virtual_clock:
        try:
            start = as_utc(datetime.fromisoformat(args.virtual_clock))
        except ValueError as err:
            raise CommandError(f"--virtual-clock: {err}", code=2) from None
    processes = processes_dir(args.processes)
    if args.deploy and not processes.is_dir():
        raise CommandError(f"no processes folder at {processes}; give --processes DIR", code=2)
    try:
        serve(processes, database_url(args.database), args.host, args.port, start,
              True if args.deploy else None)
    except DiagramError as err:
        raise CommandError(f"the diagrams do not validate; run `mash validate`:\n{err}") from None
    return 0


def token_create_command(args: argparse.Namespace) -> int:
    from engine.api.auth import create_token
    from engine.store import Store

    store = Store(database_url(args.database))
    store.create()
    token = create_token(store, args.name, args.role, SystemClock().now())
    print(f"token for {args.name} ({', '.join(sorted(set(args.role)))}); keep it safe, it is "
          "shown only once:")
    print(token)
    return 0
