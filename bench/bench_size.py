"""Flat with size (issue 20 goal 4): every page and API call timed on a database of 100,000
stored instances, and the PPN meeting's two queries.

    .venv/bin/python bench/bench_size.py [--instances 100000] [--database URL | --postgres]
                                         [--rounds 5] [--explain]

How the database is filled, fast and with realistic rows:
1. A template: a week of a busy front door (the synthetic generator, 400 contacts) run
   through the real engine and diagrams, stopped on the Friday at 11:30 (after the day's PPN
   meeting began), so it holds finished work and work in flight: open tasks, deadlines due
   and breached, PPNs waiting, a meeting under way. Kept in /tmp between runs.
2. The template's rows copied in, then its finished instances copied again and again with
   every row that belongs to them (tasks, deadlines, history, notifications, case notes,
   the contact's children and links), new ids and every instant moved a week further back
   each time, in bulk inserts, until the database holds the instances asked for. The
   copies carry no workflow state (nothing reads a finished instance's). The simulation
   has no mail server, so its notifications are marked sent when they were made.
3. The service built on it as `mash serve` builds it (the schema step runs, statistics
   included), on the virtual clock at the template's cut; then each call is made through
   the ASGI app in process (no network), signed in as the admin and as a MASH social worker.

Prints each call's median time (ms) over the rounds. Target: the PPN meeting's queries,
the deadlines board and GET /deadlines under 20 ms at 100,000 instances.
"""

from __future__ import annotations

import argparse
import atexit
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.from_thread

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sqlalchemy as sa  # noqa: E402

from engine import store as tables  # noqa: E402
from engine.store import Store, UTCDateTime  # noqa: E402

PROCESSES = HERE.parent / "processes"
FOLDER = Path(tempfile.gettempdir()) / "mash-bench-size"
TARGET_MS = 20.0
WEEK = timedelta(days=7)
START = date(2026, 1, 5)  # a Monday
CUT = timedelta(days=4, hours=11, minutes=30)  # Friday 11:30 UTC: the 10:00 meeting under way
# Copied with the instance they belong to (by `instance_id`), in this order.
OWNED = ("human_tasks", "deadlines", "notifications", "history", "case_notes", "messages",
         "contact_children")
# Copied once from the template: the deployed diagrams, case records, schedules.
ONCE = ("diagram_files", "process_versions", "deployments", "schedules", "children")
# Ids given anew in each copy (columns that name an instance are mapped with them).
INSTANCE_COLUMNS = {"instances": ("id", "about"), "contact_children": ("instance_id", "contact_id"),
                    "contact_links": ("instance_id", "other_id")}
RENUMBERED = ("history", "case_notes", "contact_links")  # autoincrement ids: left to the database


class _Cut(Exception):
    pass


def template(contacts: int, seed: int) -> tuple[Path, datetime]:
    """A week of the front door stopped mid-flight, in an SQLite file (made once)."""
    from engine.simulation.generate import generate
    from engine.simulation.runner import Simulation
    from engine.simulation.scenario import build

    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"template-{contacts}-{seed}.sqlite"
    scenario = build(generate(contacts, seed, START, 7), "generated")
    cut = scenario.start + CUT
    if path.exists():
        return path, cut
    partial = path.with_suffix(".partial")
    for stale in FOLDER.glob(partial.name + "*"):
        stale.unlink()
    os.environ.setdefault("MASH_SQLITE_SYNCHRONOUS", "NORMAL")  # a scratch file
    simulation = Simulation(scenario, PROCESSES, f"sqlite:///{partial}")

    def stop_at_cut(_done: int, _total: int) -> None:
        if simulation.clock.now() >= cut:
            raise _Cut

    simulation.progress = stop_at_cut
    with suppress(_Cut):
        simulation.run()
    simulation.engine.store.dispose()
    partial.rename(path)
    return path, cut


def _rows(conn: sa.Connection, name: str) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(tables.metadata.tables[name]))]


def fill(source: Path, target: Store, instances: int) -> int:
    """The template's rows, then copies of its finished instances (made by the database
    itself, INSERT ... SELECT) until `instances`."""
    target.create()
    with Store(f"sqlite:///{source}").reading() as read:
        every = {name: _rows(read, name) for name in
                 (*ONCE, "instances", *OWNED, "contact_links")}
    finished = [r["id"] for r in every["instances"] if r["state"] == "completed"]
    with target.transaction() as conn:
        for name in (*ONCE, "instances", *OWNED, "contact_links"):
            rows = every[name]
            if name in RENUMBERED:
                rows = [{k: v for k, v in r.items() if k != "id"} for r in rows]
            if rows:
                conn.execute(tables.metadata.tables[name].insert(), rows)
    stored = len(every["instances"])
    k = 0
    while stored < instances:
        k += 1
        chosen = finished[:instances - stored]
        with target.transaction() as conn:
            for name in ("instances", *OWNED, "contact_links"):
                conn.execute(_copies(name, chosen, k, conn.dialect.name))
        stored += len(chosen)
    with target.transaction() as conn:  # the simulation has no mail server: all were sent
        notifications = tables.notifications
        conn.execute(notifications.update().where(notifications.c.sent_at.is_(None))
                     .values(sent_at=notifications.c.created_at, attempts=1))
    return stored


def _copies(name: str, chosen: list[str], k: int, dialect: str) -> Any:
    """The rows of the `chosen` instances copied as copy number `k`: new ids, a week further
    back each (the summary's `refers_to` keeps the template's ids)."""
    table = tables.metadata.tables[name]
    mapped = INSTANCE_COLUMNS.get(name, ("id", "instance_id"))
    columns, values = [], []
    for column in table.columns:
        if name in RENUMBERED and column.name == "id":
            continue
        value: Any = column
        if column.name in mapped:
            value = sa.literal(f"{k:08x}") + sa.func.substr(column, 9)
        elif isinstance(column.type, UTCDateTime):
            value = _earlier(column, 7 * k, dialect)
        elif name == "instances" and column.name == "workflow":
            value = sa.literal(b"", sa.LargeBinary)  # nothing reads a finished instance's
        elif name == "instances" and column.name == "reference":
            value = column + sa.literal(f"-{k}")
        columns.append(column.name)
        values.append(value)
    key = table.c.id if name == "instances" else table.c.instance_id
    where: Any = key.in_(chosen)
    if name == "contact_links":
        where = sa.and_(where, table.c.other_id.in_(chosen))
    return table.insert().from_select(columns, sa.select(*values).where(where))


def _earlier(column: Any, days: int, dialect: str) -> Any:
    if dialect == "sqlite":  # stored as text, microseconds included
        return sa.func.strftime("%Y-%m-%d %H:%M:%f", column, f"-{days} days").op("||")("000")
    return column - sa.literal_column(f"interval '{days} days'")


# -- timing -----------------------------------------------------------------------------------


def median_ms(call: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """The median wall time and CPU time (this process's, the app's threads included: less
    disturbed by a busy machine) of a call, in ms."""
    call()  # warm: compiled statements, templates, the page cache
    walls, cpus = [], []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


@contextmanager
def postgres_database() -> Iterator[str]:
    from tests.support import postgres

    with postgres.server() as server:
        yield server.new_database()


def calls(url: str, now: datetime) -> list[tuple[str, Callable[[], Any], bool]]:
    """(name, call, whether the 20 ms target applies), each checking its answer."""
    from fastapi.testclient import TestClient

    from engine.api.auth import caller_for, create_token
    from engine.serve import build
    from engine.web.session import COOKIE, open_session
    from handlers import ppn

    app, engine = build(PROCESSES, url, now, deploy=False)
    store = engine.store
    clients: dict[str, TestClient] = {}
    # One event loop for every call, as a server keeps one: without it the test client starts
    # a thread and a loop for each request (~5 ms, more on a busy machine), which no page
    # costs in service. The app's lifespan is not run (no background loops during timing).
    opened = anyio.from_thread.start_blocking_portal("asyncio")
    portal = opened.__enter__()
    atexit.register(opened.__exit__, None, None, None)
    for who, roles in (("admin", ["admin"]), ("social_worker", ["MASH Social Worker"])):
        token = create_token(store, who, roles, now)
        client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        client.portal = portal
        caller = caller_for(store, token, now)
        assert caller is not None
        client.cookies.set(COOKIE, open_session(store, caller, now))
        clients[who] = client

    with store.reading() as conn:
        task = conn.execute(sa.select(tables.human_tasks.c.id, tables.human_tasks.c.instance_id)
                            .where(tables.human_tasks.c.status == "open",
                                   tables.human_tasks.c.role == "MASH Social Worker")
                            .limit(1)).one()
        meeting = conn.execute(sa.select(tables.instances.c.id)
                               .where(tables.instances.c.process_id == "ppn_meeting")
                               .order_by(tables.instances.c.started_at.desc()).limit(1)).scalar()
    instance = task.instance_id
    week_ago = (now - WEEK).isoformat()

    def get(who: str, path: str, **params: Any) -> Callable[[], Any]:
        def call() -> Any:
            answer = clients[who].get(path, params=params or None, follow_redirects=False)
            if answer.status_code >= 400:
                raise RuntimeError(f"GET {path} as {who}: {answer.status_code} {answer.text[:300]}")
            return answer
        return call

    def query(run: Callable[[sa.Connection], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with store.reading() as conn:
                return run(conn)
        return call

    found: list[tuple[str, Callable[[], Any], bool]] = [
        ("PPN meeting: waiting PPNs", query(lambda c: ppn.waiting_ppns(c, ppn.MESSAGE)), True),
        ("PPN meeting: already listed", query(
            lambda c: ppn.listed_elsewhere(c, "ppn_meeting", meeting or "")), True),
        ("page /board (admin)", get("admin", "/board"), True),
        ("page /board (social worker)", get("social_worker", "/board"), True),
        ("GET /deadlines?state=due (admin)", get("admin", "/deadlines", state="due"), True),
        ("GET /deadlines?state=due (social worker)",
         get("social_worker", "/deadlines", state="due"), True),
        ("GET /deadlines?state=breached&since=7 days ago (admin)",
         get("admin", "/deadlines", state="breached", since=week_ago), True),
        ("GET /deadlines?state=breached&since=7 days ago (social worker)",
         get("social_worker", "/deadlines", state="breached", since=week_ago), True),
        # every breached deadline ever: grows with what it lists (a third of all contacts)
        ("GET /deadlines?state=breached (admin)",
         get("admin", "/deadlines", state="breached"), False),
        ("GET /deadlines?state=breached (social worker)",
         get("social_worker", "/deadlines", state="breached"), False),
        ("GET /healthz", get("admin", "/healthz"), False),
        ("GET /tasks (admin)", get("admin", "/tasks"), False),
        ("GET /tasks (social worker)", get("social_worker", "/tasks"), False),
        ("GET /tasks/{id}", get("social_worker", f"/tasks/{task.id}"), False),
        ("GET /instances/{id}", get("admin", f"/instances/{instance}"), False),
        ("GET /instances/{id}/diagram", get("admin", f"/instances/{instance}/diagram"), False),
        ("GET /contacts/{id}", get("admin", f"/contacts/{instance}"), False),
        ("GET /incidents", get("admin", "/incidents"), False),
        ("GET /metrics", get("admin", "/metrics"), False),
        ("GET /reports/timeliness", get("admin", "/reports/timeliness"), False),
        ("GET /reports/heatmap/first_response",
         get("admin", "/reports/heatmap/first_response"), False),
        ("GET /reports/contacts", get("admin", "/reports/contacts"), False),
        ("page /", get("social_worker", "/"), False),
        ("page /inbox", get("social_worker", "/inbox"), False),
        ("page /inbox/{task}", get("social_worker", f"/inbox/{task.id}"), False),
        ("page /case/{id}", get("admin", f"/case/{instance}"), False),
        ("page /case/{id}/diagram.json", get("admin", f"/case/{instance}/diagram.json"), False),
        ("page /incident-list", get("admin", "/incident-list"), False),
        ("page /dashboard", get("admin", "/dashboard"), False),
        ("page /processes/first_response", get("admin", "/processes/first_response"), False),
        ("page /processes/first_response/heatmap.json",
         get("admin", "/processes/first_response/heatmap.json"), False),
    ]
    return found


def explain(url: str) -> None:
    """The query plans of the PPN meeting's queries and the deadline lists."""
    from engine import queries
    from handlers import ppn

    store = Store(url)
    statements: list[Any] = []
    original = sa.engine.Connection.execute

    def capture(self: sa.engine.Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(statement, sa.sql.Select):
            statements.append(statement)
        return original(self, statement, *args, **kwargs)

    sa.engine.Connection.execute = capture  # type: ignore[method-assign]
    try:
        with store.reading() as conn:
            ppn.waiting_ppns(conn, ppn.MESSAGE)
            ppn.listed_elsewhere(conn, "ppn_meeting", "")
            for state in ("due", "breached"):
                queries.deadline_list(conn, state, datetime.now().astimezone(),
                                      roles={"MASH Social Worker"})
    finally:
        sa.engine.Connection.execute = original  # type: ignore[method-assign]
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    with store.reading() as conn:
        for statement in statements:
            compiled = statement.compile(dialect=conn.dialect,
                                         compile_kwargs={"literal_binds": True})
            print(f"\n{compiled}\n" + "\n".join(
                "  " + " ".join(str(v) for v in row)
                for row in conn.exec_driver_sql(prefix + str(compiled))))
    store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=400, help="the template's week")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database", help="an empty database to fill (default: SQLite in /tmp)")
    parser.add_argument("--postgres", action="store_true",
                        help="a throwaway PostgreSQL server (needs its binaries)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--only", nargs="*", help="time only the calls whose names hold these")
    parser.add_argument("--filled", action="store_true",
                        help="--database is already filled (by an earlier run): time it again")
    args = parser.parse_args()

    started = time.perf_counter()
    source, now = template(args.contacts, args.seed)
    print(f"template: {source} ({time.perf_counter() - started:.0f} s)")
    with _database(args) as url:
        started = time.perf_counter()
        if not args.filled:
            stored = fill(source, Store(url, synchronous="OFF"), args.instances)  # scratch
            print(f"filled {stored} instances in {time.perf_counter() - started:.0f} s")
        found = calls(url, now)
        print(f"\n{'call':62s} {'wall ms':>8s} {'CPU ms':>8s}  (medians)")
        slow = []
        for name, call, targeted in found:
            if args.only and not any(part in name for part in args.only):
                continue
            ms, cpu = median_ms(call, args.rounds)
            mark = " (target under 20 ms)" if targeted else ""
            print(f"{name:62s} {ms:8.1f} {cpu:8.1f}{mark}")
            if targeted and ms >= TARGET_MS:
                slow.append(name)
        if args.explain:
            explain(url)
    print(f"\n{len(slow)} targeted call(s) at or over {TARGET_MS:.0f} ms"
          + (": " + "; ".join(slow) if slow else ""))
    return 0


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[str]:
    if args.database:
        yield args.database
    elif args.postgres:
        with postgres_database() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="mash-bench-size-") as folder:
            yield f"sqlite:///{Path(folder) / 'size.sqlite'}"


if __name__ == "__main__":
    sys.exit(main())
