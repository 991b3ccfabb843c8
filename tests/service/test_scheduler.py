"""The scheduler on the system clock, and two services sharing one database: a timer fires
once, at its time; a task is completed once."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from engine.clock import SystemClock, iso_z
from engine.scheduler import Wakeup
from engine.service import Conflict, Engine
from engine.store import Store, deadlines, history
from tests.engine.conftest import DIAGRAMS


def engines(database_url: str, tmp_path: Path, count: int) -> list[Engine]:
    folder = tmp_path / "processes"
    folder.mkdir(exist_ok=True)
    shutil.copy(DIAGRAMS / "timer.bpmn", folder)
    shutil.copy(DIAGRAMS / "review.bpmn", folder)
    made = []
    for _ in range(count):  # each as a service of its own would have: its own pool and cache
        store = Store(database_url)
        store.create()
        engine = Engine(store, SystemClock(), folder)
        engine.deploy()
        made.append(engine)
    return made


def test_timers_fire_once_at_their_time_with_two_services_on_one_database(
        database_url: str, tmp_path: Path) -> None:
    first, second = engines(database_url, tmp_path, 2)
    soon = datetime.now(UTC) + timedelta(seconds=3)
    for i in range(30):
        (first if i % 2 else second).start(
            "wait_for_timer", {"due_at": iso_z(soon + timedelta(milliseconds=50 * i))})
    wakeups = [Wakeup(first, poll_seconds=1), Wakeup(second, poll_seconds=1)]
    for wakeup in wakeups:
        wakeup.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with first.store.reading() as conn:
                fired = conn.execute(sa.select(deadlines.c.due, deadlines.c.breached_at)
                                     .where(deadlines.c.breached_at.is_not(None))).all()
            if len(fired) == 30:
                break
            time.sleep(0.2)
    finally:
        for wakeup in wakeups:
            wakeup.stop()
    assert len(fired) == 30
    lateness = [(row.breached_at - row.due).total_seconds() for row in fired]
    assert max(lateness) < 1.0, lateness
    with first.store.reading() as conn:
        breaches = Counter(r[0] for r in conn.execute(
            sa.select(history.c.instance_id).where(history.c.action == "deadline_breached")))
    assert set(breaches.values()) == {1}  # every timer fired once, by one of the two
    for engine in (first, second):
        engine.store.dispose()


def test_two_services_completing_one_task_one_wins(database_url: str, tmp_path: Path) -> None:
    first, second = engines(database_url, tmp_path, 2)
    instance, advance = first.start("review", {})
    task_id = advance.open_tasks[0].id
    second.task_data(task_id)  # the second service has it in memory too (a stale copy soon)
    results: list[str] = []

    def complete(engine: Engine, who: str) -> None:
        try:
            engine.complete(task_id, {"approved": True}, who)
            results.append(f"done by {who}")
        except Conflict as err:
            results.append(f"conflict: {err}")

    threads = [threading.Thread(target=complete, args=(e, n))
               for e, n in ((first, "alice"), (second, "bob"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.split(" ")[0] for r in results) == ["conflict:", "done"]
    with first.store.reading() as conn:
        completions = conn.execute(sa.select(sa.func.count()).select_from(history).where(
            history.c.instance_id == instance, history.c.element_id == "review_task")).scalar()
    assert completions == 1
    for engine in (first, second):
        engine.store.dispose()
