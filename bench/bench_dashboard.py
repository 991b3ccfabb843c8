"""The management information on a year of a busy front door: 20,000 contacts run through
the real diagrams (the synthetic generator, `mash simulate`'s shards), put in one SQLite
database and one PostgreSQL database, then each report timed there (median of 5 runs).

    .venv/bin/python bench/bench_dashboard.py [--contacts 20000] [--explain]

The target (issue 18): each page under 300 ms. The year's database is kept in /tmp between
runs (keyed by contacts and seed). The workflow state of each instance is left out of it:
no report reads it. --explain prints the query plans of the heaviest queries.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sqlalchemy as sa  # noqa: E402

from engine import store as tables  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.store import Store  # noqa: E402

PROCESSES = HERE.parent / "processes"
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


def timed(work: Callable[[], Any], runs: int = 5) -> float:
    work()  # warm: the diagrams parsed, the calendar's days cached
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(url: str, label: str, explain: bool) -> dict[str, float]:
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
    month = reports.period()
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
    print(f"\n{label}: {counts['instances']} instances, {counts['deadlines']} deadlines, "
          f"{counts['history']} history rows; now {last:%Y-%m-%d %H:%M}")
    cases = {
        "dashboard numbers, last 28 days": lambda: reports.timeliness(month, none),
        "dashboard numbers, a year": lambda: reports.timeliness(year, none),
        "dashboard page (GET /dashboard), last 28 days": lambda: client.get("/dashboard"),
        "dashboard page, a year": lambda: client.get(f"/dashboard?from={year.first}"),
        "dashboard page, a year, RED only": lambda: client.get(f"/dashboard?from={year.first}&rag=RED"),
        "heat map, last 28 days": lambda: reports.heatmap("first_response", month),
        "heat map page (GET /processes/first_response), 28 days":
            lambda: client.get("/processes/first_response"),
        "heat map, a year": lambda: reports.heatmap("first_response", year),
        "register CSV, last 28 days": lambda: as_csv(reports.register(month, none, False)),
        "register CSV, a year": lambda: as_csv(reports.register(year, none, False)),
        "metrics (GET /metrics)": lambda: metrics_text(engine),
    }
    found = {}
    for name, work in cases.items():
        found[name] = timed(work)
        mark = "ok" if found[name] < TARGET_MS else "OVER"
        print(f"  {name:58} {found[name]:8.1f} ms  {mark}")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    path = year_database(args.contacts, args.seed)
    results = {"SQLite": measure(f"sqlite:///{path}", "SQLite", args.explain)}
    from tests.support import postgres

    with postgres.server(durable=True) as server:
        url = server.new_database()
        started = time.perf_counter()
        copy_rows([f"sqlite:///{path}"], Store(url))
        print(f"\ncopied to PostgreSQL in {time.perf_counter() - started:.0f} s")
        with Store(url).engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
        results["PostgreSQL"] = measure(url, "PostgreSQL", args.explain)
    # The target is for the pages people open (their default period, the last 28 days);
    # the year-long views and the metrics scrape are measured and printed, not held to it.
    over = [(db, name) for db, found in results.items() for name, ms in found.items()
            if ms >= TARGET_MS and "28 days" in name]
    print("\nthe pages of the default period under 300 ms on both databases"
          if not over else f"\nOVER 300 ms: {over}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
