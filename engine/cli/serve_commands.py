"""`mash serve` and `mash token create | list | revoke`."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from engine.api.auth import PERSON_DAYS, person_expiry
from engine.clock import SystemClock, as_utc
from engine.settings import database_url, processes_dir

from . import CommandError
from .common import add_database, add_json, add_processes, local, print_json


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="the service: HTTP API, pages, timers, mail")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on "
                                                            "(default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
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

    token = subparsers.add_parser("token", help="create, list and revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="a new token, printed once on the last line")
    create.add_argument("--role", action="append", required=True, metavar="ROLE",
                        help="a role (lane name) or admin; repeat for several")
    create.add_argument("--name", default="token", metavar="LABEL", help="who or what uses it")
    create.add_argument("--expires", metavar="DAYS|YYYY-MM-DD",
                        help="when it stops working: a number of days from now, or a date "
                             f"(default for a person: {PERSON_DAYS} days)")
    create.add_argument("--integration", action="store_true",
                        help="for a system (case management, a portal), not a person: no "
                             "expiry unless --expires is given")
    create.add_argument("--no-expiry", action="store_true",
                        help="never expires (integrations only): revoke it when it is done with")
    add_processes(create)
    add_database(create)
    create.set_defaults(handler=token_create_command)

    listing = token_sub.add_parser(
        "list", help="every token's roles and dates (never the token)",
        description="Every token: id, name, kind, roles, created, expires, last used, revoked, "
                    "in the Hub's local time (--json: UTC). Never the token itself: only its "
                    "hash is kept.")
    add_json(listing)
    add_database(listing)
    listing.set_defaults(handler=token_list_command)

    revoke = token_sub.add_parser("revoke", help="stop a token working at once",
                                  description="Stop a token working at once, by id or name; its "
                                              "web sessions are signed out too.")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the token's id, from `mash token list`")
    which.add_argument("--name", metavar="LABEL", help="every token with this name")
    add_database(revoke)
    revoke.set_defaults(handler=token_revoke_command)


def serve_command(args: argparse.Namespace) -> int:
    from engine.checking import NotDeployed
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
    except NotDeployed as err:
        raise CommandError(f"nothing deployed; fix these first (`mash validate` lists them "
                           f"too):\n{err}") from None
    return 0


def _expiry(args: argparse.Namespace, now: datetime) -> datetime | None:
    if args.no_expiry:
        if not args.integration:
            raise CommandError("--no-expiry: a person's token must expire; give --integration "
                               "for a system's token", code=2)
        if args.expires:
            raise CommandError("give --expires or --no-expiry, not both", code=2)
        return None
    if not args.expires:
        return None if args.integration else person_expiry(now)
    text = args.expires.strip()
    if text.isdigit():
        if int(text) < 1 or int(text) > 3660:
            raise CommandError("--expires: give from 1 to 3660 days", code=2)
        return person_expiry(now, int(text))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--expires {text!r}: give a number of days or a date YYYY-MM-DD",
                           code=2) from None
    ends = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
    if ends <= now:
        raise CommandError(f"--expires {text}: that date has passed", code=2)
    return ends


def token_create_command(args: argparse.Namespace) -> int:
    from engine.api.auth import INTEGRATION, PERSON, UnknownRole, check_roles, create_token, lane_roles
    from engine.diagrams import DiagramError
    from engine.store import Store

    processes = processes_dir(args.processes)
    try:
        check_roles(args.role, lane_roles(processes))
    except UnknownRole as err:
        raise CommandError(str(err), code=2) from None
    except (DiagramError, OSError) as err:
        raise CommandError(f"cannot read the roles from the diagrams in {processes}: {err}") \
            from None
    now = SystemClock().now()
    expires_at = _expiry(args, now)
    store = Store(database_url(args.database))
    store.create()
    token = create_token(store, args.name, args.role, now, expires_at=expires_at,
                         kind=INTEGRATION if args.integration else PERSON)
    until = "no expiry" if expires_at is None else \
        f"expires {local(expires_at, ZoneInfo('Europe/London'))}"
    print(f"token for {args.name} ({', '.join(sorted(set(args.role)))}; {until}); keep it safe, "
          "it is shown only once:")
    print(token)
    return 0


def token_list_command(args: argparse.Namespace) -> int:
    from engine.api.auth import list_tokens
    from engine.store import Store

    store = Store(database_url(args.database))
    store.create()
    found = list_tokens(store)
    if args.json:
        print_json(found)
        return 0
    zone = ZoneInfo("Europe/London")
    now = SystemClock().now()
    for t in found:
        state = "revoked " + local(t["revoked_at"], zone) if t["revoked_at"] else \
            ("expired" if t["expires_at"] is not None and t["expires_at"] <= now else "active")
        print(f"{t['id']:>4}  {t['name']}  [{t['kind']}]  {state}")
        print(f"      roles: {', '.join(t['roles'])}")
        print(f"      created {local(t['created_at'], zone)} · expires "
              f"{local(t['expires_at'], zone) if t['expires_at'] else 'never'} · last used "
              f"{local(t['last_used_at'], zone) if t['last_used_at'] else 'never'}")
    if not found:
        print("no tokens; make one with `mash token create --role ROLE --name NAME`")
    return 0


def token_revoke_command(args: argparse.Namespace) -> int:
    from engine.api.auth import revoke_tokens
    from engine.store import Store

    store = Store(database_url(args.database))
    store.create()
    count = revoke_tokens(store, SystemClock().now(), token_id=args.id, name=args.name)
    which = f"id {args.id}" if args.id is not None else f"name {args.name!r}"
    if count == 0:
        raise CommandError(f"no active token with {which}; see `mash token list`")
    print(f"revoked {count} token{'s' if count != 1 else ''} with {which}")
    return 0
