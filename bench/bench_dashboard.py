"""The management information on a year of a busy front door: 20,000 contacts run through
the real diagrams (the synthetic generator, `mash simulate`'s shards), put in one SQLite
database and one PostgreSQL database, then each report timed there (median of 5 runs), as
the numbers and as served (HTTP through the app: the pages, the heat map's JSON, the
register's CSV and XLSX downloads), for the last 28 days and for a year.

    .venv/bin/python bench/bench_dashboard.py [--contacts 20000] [--explain]
        [--database URL ...]   time these databases (a year copied there already) instead
                               of the cached SQLite year and a fresh PostgreSQL copy of it
        [--baseline DIR]       and the same with the code of DIR (e.g. `git archive main`
                               unpacked), back to back: before, after and their ratio

The target (issue 18): each page under 300 ms. The year's database is kept in /tmp between
runs (keyed by contacts and seed). The workflow state of each instance is left out of it:
no report reads it. --explain prints the query plans of the heaviest queries. Each set of
figures is measured in a process of its own (`--measure URL --code DIR`), so the code under
test is the only thing that differs; "first" is the first request (the heat map's memo of
closed days is built then: engine/reports/steps.py), the figure beside it the median after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The code measured: this tree's, or another's (--code DIR, for a baseline run).
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv \
    else HERE.parent
sys.path.insert(0, str(CODE))

import sqlalchemy as sa  # noqa: E402

from engine import store as tables  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.store import Store  # noqa: E402

PROCESSES = CODE / "processes"
COPIED = ("diagram_files", "process_versions", "children", "instances", "human_tasks",
          "deadlines", "notifications", "history", "case_notes")
TARGET_MS = 300.0


def _run_shard(args: tuple[Any, str]) -> str:
    from engine.simulation.runner import Simulation

    part, url = args
    simulation = Simulation(part, PROCESSES, url)
    simulation.run()
    simulation.engine.store.dispose()
    return url


def simulate_year(contacts: int, seed: int, folder: Path) -> list[str]:
    from engine.simulation.generate import generate
    from engine.simulation.parallel import split
    from engine.simulation.scenario import build

    scenario = build(generate(contacts, seed, date(2026, 1, 5), 365), "generated")
    parts = split(scenario, 2)
    urls = [f"sqlite:///{folder / f'shard{i}.sqlite'}" for i in range(len(parts))]
    with ProcessPoolExecutor(len(parts)) as pool:
        return list(pool.map(_run_shard, list(zip(parts, urls, strict=True))))


def copy_rows(sources: list[str], target: Store) -> None:
    """Every shard's rows into the target, once each (the deployed diagrams and the case
    records are the same in every shard); history ids renumbered; no workflow state."""
    target.create()
    seen_children: set[str] = set()
    for n, url in enumerate(sources):
        source = Store(url)
        with source.reading() as read, target.transaction() as write:
            for name in COPIED:
                table = tables.metadata.tables[name]
                if name in ("diagram_files", "process_versions") and n > 0:
                    continue
                batch: list[dict[str, Any]] = []
                for row in read.execute(sa.select(table)):
                    values = dict(row._mapping)
                    if name in ("history", "case_notes"):
                        values.pop("id")
                    if name == "instances":
                        values["workflow"] = b""
                    if name == "children":
                        if values["child_id"] in seen_children:
                            continue
                        seen_children.add(values["child_id"])
                    batch.append(values)
                    if len(batch) == 5000:
                        write.execute(table.insert(), batch)
                        batch = []
                if batch:
                    write.execute(table.insert(), batch)
        source.dispose()


def year_database(contacts: int, seed: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"mash-bench-dashboard-{contacts}-{seed}.sqlite"
    if path.exists():
        return path
    with tempfile.TemporaryDirectory(prefix="mash-bench-") as folder:
        started = time.perf_counter()
        shards = simulate_year(contacts, seed, Path(folder))
        print(f"simulated {contacts} contacts in {time.perf_counter() - started:.0f} s")
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        target = Store(f"sqlite:///{partial}", synchronous="OFF")
        copy_rows(shards, target)
        target.dispose()
        partial.rename(path)
    return path


def timed(work: Callable[[], Any], runs: int = 5) -> tuple[float, float]:
    """The first run's time and the median of the next `runs` (ms)."""
    started = time.perf_counter()
    work()  # the diagrams parsed, the calendar's days cached, the closed days memoised
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(times)


def served(client: Any, url: str) -> Callable[[], Any]:
    def get() -> Any:
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        return answer
    return get


def first_byte(client: Any, url: str) -> tuple[float, float]:
    """A download's time to its first byte and to its last (ms), the median of 5."""
    firsts, totals = [], []
    for _ in range(6):
        started = time.perf_counter()
        with client.stream("GET", url) as answer:
            chunks = answer.iter_bytes()
            next(chunks)
            firsts.append((time.perf_counter() - started) * 1000)
            for _ in chunks:
                pass
        totals.append((time.perf_counter() - started) * 1000)
    return statistics.median(firsts[1:]), statistics.median(totals[1:])


def measure(url: str, label: str, explain: bool) -> dict[str, tuple[float, float]]:
    from fastapi.testclient import TestClient

    from engine.api.app import create_app
    from engine.api.auth import create_token
    from engine.api.metrics import metrics_text
    from engine.reports.reader import reports_for
    from engine.reports.register import as_csv
    from engine.service import Engine
    from engine.web import routes

    store = Store(url)
    store.create()  # the indexes a newer release adds, on the copied database too
    with store.reading() as conn:
        # "now": the last contact's arrival, so the last 28 days are a busy month
        last = conn.execute(sa.select(sa.func.max(tables.instances.c.started_at))
                            .where(tables.instances.c.process_id == "first_response")).scalar()
        counts = {t: conn.execute(sa.select(sa.func.count()).select_from(
            tables.metadata.tables[t])).scalar() for t in ("instances", "deadlines", "history")}
    engine = Engine(store, VirtualClock(last.replace(tzinfo=UTC) if last.tzinfo is None else last),
                    PROCESSES)
    engine.deploy()
    reports = reports_for(engine)
    year = reports.period((last.date().replace(year=last.year - 1)).isoformat(), None)
    none = reports.filters()
    token = create_token(store, "bench", ["admin"], last)
    client = TestClient(create_app(engine, extra_routes=routes))
    from engine.api.auth import caller_for
    from engine.web.pages.signin import open_session
    from engine.web.session import COOKIE

    caller = caller_for(store, token, last)
    assert caller is not None
    client.cookies.set(COOKIE, open_session(store, caller, last))
    print(f"\n{label} ({CODE}): {counts['instances']} instances, {counts['deadlines']} deadlines, "
          f"{counts['history']} history rows; now {last:%Y-%m-%d %H:%M}", file=sys.stderr)
    since = f"from={year.first}"
    cases = {
        # as served: the pages people open (their default period, the last 28 days) ...
        "dashboard page, 28 days (GET /dashboard)": served(client, "/dashboard"),
        "heat map page, 28 days (GET /processes/first_response)":
            served(client, "/processes/first_response"),
        "heat map JSON, 28 days": served(client, "/processes/first_response/heatmap.json"),
        "register CSV, 28 days": served(client, "/dashboard/contacts.csv"),
        # ... and with a year chosen
        "dashboard page, a year": served(client, f"/dashboard?{since}"),
        "dashboard page, a year, RED only": served(client, f"/dashboard?{since}&rag=RED"),
        "heat map page, a year": served(client, f"/processes/first_response?{since}"),
        "heat map JSON, a year": served(client, f"/processes/first_response/heatmap.json?{since}"),
        "register CSV, a year": served(client, f"/dashboard/contacts.csv?{since}"),
        "register XLSX, a year": served(client, f"/dashboard/contacts.xlsx?{since}"),
        "metrics (GET /metrics)": lambda: metrics_text(engine),
        # the numbers alone, in process
        "dashboard numbers, a year": lambda: reports.timeliness(year, none),
        "heat map numbers, a year": lambda: reports.heatmap("first_response", year),
        "register numbers and CSV, a year": lambda: as_csv(reports.register(year, none, False)),
    }
    found = {}
    for name, work in cases.items():
        found[name] = timed(work)
        print(f"  {name:58} first {found[name][0]:8.1f} ms, then {found[name][1]:8.1f} ms",
              file=sys.stderr)
    for name, path in (("register CSV, a year", f"/dashboard/contacts.csv?{since}"),):
        first, total = first_byte(client, path)
        found[f"{name}: first byte"] = (first, first)
        found[f"{name}: last byte"] = (total, total)
    if explain:
        explain_plans(store)
    client.close()
    store.dispose()
    return found


def explain_plans(store: Store) -> None:
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    queries = {
        "contacts": "SELECT id FROM instances WHERE process_id = 'first_response' "
                    "AND started_at >= '2026-11-01'",
        "heat map steps": "SELECT element_id, count(DISTINCT instance_id) FROM history "
                          "WHERE action = 'completed' AND element_id IN ('verify', 'brag') "
                          "AND at >= '2026-11-01' GROUP BY element_id",
        "heat map tasks": "SELECT created_at, completed_at FROM human_tasks WHERE status = "
                          "'completed' AND element_id IN ('verify') AND completed_at >= "
                          "'2026-11-01'",
    }
    with store.reading() as conn:
        for name, sql in queries.items():
            print(f"  plan, {name}:")
            for row in conn.execute(sa.text(prefix + sql)):
                print("     ", " ".join(str(c) for c in row))


def run_measure(url: str, code: Path, explain: bool) -> dict[str, tuple[float, float]]:
    """`measure` in a process of its own, with the code of `code`."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", url,
               "--code", str(code)] + (["--explain"] if explain else [])
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return {k: (v[0], v[1]) for k, v in json.loads(done.stdout).items()}


def report(results: dict[str, dict[str, dict[str, tuple[float, float]]]]) -> list[str]:
    """Print before/after per page and database; the pages over the target after."""
    over = []
    for db, by_code in results.items():
        after = by_code["after"]
        before = by_code.get("before")
        print(f"\n{db}" + (": before -> after (ratio after/before; first request in brackets)"
                            if before else ": (first request in brackets)"))
        for name, (first, ms) in after.items():
            line = f"  {name:58} "
            if before and name in before:
                was_first, was = before[name]
                line += f"{was:8.1f} ({was_first:7.1f}) -> "
            line += f"{ms:8.1f} ({first:7.1f}) ms"
            if before and name in before:
                line += f"  x{ms / before[name][1]:.2f}"
            mark = "ok" if ms < TARGET_MS else "OVER"
            print(f"{line}  {mark}")
            if ms >= TARGET_MS and "numbers" not in name and "metrics" not in name:
                over.append((db, name))
    return [f"{db}: {name}" for db, name in over]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--database", action="append", default=[],
                        help="a database URL holding a year already (repeatable)")
    parser.add_argument("--baseline", type=Path, help="a tree of the code to compare against")
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.measure.split(":")[0], args.explain)))
        return 0
    codes = ([("before", args.baseline)] if args.baseline else []) + [("after", HERE.parent)]

    def both(url: str) -> dict[str, dict[str, tuple[float, float]]]:
        return {name: run_measure(url, code, args.explain) for name, code in codes}

    results: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    if args.database:
        for url in args.database:
            results["SQLite" if url.startswith("sqlite") else "PostgreSQL"] = both(url)
    else:
        path = year_database(args.contacts, args.seed)
        results["SQLite"] = both(f"sqlite:///{path}")
        from tests.support import postgres

        with postgres.server(durable=True) as server:
            url = server.new_database()
            started = time.perf_counter()
            copy_rows([f"sqlite:///{path}"], Store(url))
            print(f"\ncopied to PostgreSQL in {time.perf_counter() - started:.0f} s")
            with Store(url).engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
                conn.commit()
            results["PostgreSQL"] = both(url)
    over = report(results)
    print("\nevery page under 300 ms on each database" if not over else
          "\nOVER 300 ms (served, after): " + "; ".join(over))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
