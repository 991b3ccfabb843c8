"""Work done at a deadline's due instant meets it (docs/process.md: met "at or before the due
instant"); a microsecond later it is breached. For every kind of deadline (working hours,
working days, elapsed hours, a given instant, an ISO duration; non-interrupting and
interrupting boundary timers; a reply racing a timer at an event-based gateway), and for
every way a timer is fired: the virtual clock's run_until, the scheduler's tick on a clock
that reads exactly the due instant, a person's completion, a message's delivery."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import queries
from engine.clock import VirtualClock, iso_z
from engine.outbox import Messages
from engine.registry import StepWrites
from engine.service import Conflict, Engine
from engine.store import Store, messages
from tests.engine.conftest import DIAGRAMS

KINDS = ["dl_working_hours", "dl_working_days", "dl_hours", "dl_time_date", "dl_duration",
         "dl_race"]
# Late work finds the task taken away (an interrupting timer) or the race lost (the gateway).
TAKEN_AWAY = {"dl_hours", "dl_duration", "dl_race"}
OFFSETS = [timedelta(seconds=-1), timedelta(0), timedelta(microseconds=1), timedelta(seconds=1),
           timedelta(hours=1)]


@pytest.fixture
def deployed(database_url: str, tmp_path: Path) -> Any:
    folder = tmp_path / "processes"
    folder.mkdir()
    shutil.copy(DIAGRAMS / "deadlines.bpmn", folder)
    store = Store(database_url)
    store.create()
    Engine(store, VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), folder).deploy()
    yield store, folder
    store.dispose()


def instants() -> st.SearchStrategy[datetime]:
    """Any minute of 2026-2027, and now and then a few seconds past it: nights, weekends,
    bank holidays and clock changes included."""
    return st.builds(
        lambda minutes, seconds: datetime(2026, 1, 1, tzinfo=UTC)
        + timedelta(minutes=minutes, seconds=seconds),
        st.integers(0, 2 * 365 * 24 * 60), st.sampled_from([0, 0, 0, 17]))


def test_work_at_the_due_instant_meets_the_deadline_and_a_moment_later_breaches_it(
        deployed: Any) -> None:
    store, folder = deployed

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(kind=st.sampled_from(KINDS), start=instants(), offset=st.sampled_from(OFFSETS),
           path=st.sampled_from(["run_until", "scheduler", "scheduler_ticks_first"]),
           given_due=st.integers(1, 3 * 24 * 60))
    def check(kind: str, start: datetime, offset: timedelta, path: str, given_due: int) -> None:
        clock = VirtualClock(start)
        engine = Engine(store, clock, folder)
        data = {"due_at": iso_z(start + timedelta(minutes=given_due))}
        instance, advance = engine.start(kind, data, "tester")
        [deadline] = view(engine, instance)["deadlines"]
        due: datetime = deadline["due"]
        at = due + offset
        if path == "run_until":  # the virtual clock: tests, training, POST /clock/advance
            engine.run_until(at)
        else:  # the scheduler on the system clock wakes at the due instant, or just after
            clock.set(max(min(due, at), clock.now()))
            engine.fire_due(through_now=False)
            if at > clock.now():
                clock.set(at)
                if path == "scheduler_ticks_first":
                    engine.fire_due(through_now=False)
        assert clock.now() == max(at, start)
        late = at > due
        try:
            work(engine, kind, instance, advance)
            did_it = True
        except Conflict:  # the timer took the task away, or won the race
            did_it = False
        assert did_it or (late and kind in TAKEN_AWAY)
        engine.run_until(at + timedelta(days=10), through=True)  # nothing more happens to it
        shown = view(engine, instance)
        [deadline] = shown["deadlines"]
        breach_mails = [n for n in shown["notifications"] if n["kind"] == "deadline_breach"]
        breached = [h for h in shown["history"] if h["action"] == "deadline_breached"]
        if not late:
            assert deadline["met"] is True, (kind, path, offset)
            assert deadline["breached_at"] is None and breached == [] and breach_mails == []
            assert deadline["done_at"] == max(at, start)
        else:
            assert deadline["met"] is False, (kind, path, offset)
            # recorded as the instant the timer fired: at the due instant once it was over
            # (the virtual clock moved on), or at the scheduler's tick after it
            assert due <= deadline["breached_at"] <= at
            assert len(breached) == 1 and len(breach_mails) == 1
        assert shown["state"] == "completed"

    check()


def work(engine: Engine, kind: str, instance: str, advance: Any) -> None:
    if kind == "dl_race":  # another instance replies: the message is delivered at once
        with engine.store.transaction() as conn:
            writes = StepWrites(conn)
            Messages(writes, engine.clock).send(instance, "reply", {"answer": "yes"})
            writes.finish(ok=True)
        engine.deliver_messages()
        with engine.store.reading() as conn:
            note = conn.execute(sa.select(messages.c.note)
                                .where(messages.c.instance_id == instance)).scalar()
        if note is not None:  # the timer had won the race
            raise Conflict(note)
        return
    [task] = advance.open_tasks
    engine.complete(task.id, {}, "worker")


def view(engine: Engine, instance: str) -> dict[str, Any]:
    with engine.store.reading() as conn:
        return queries.instance_view(conn, instance)


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1)])
def test_green_research_finished_at_its_due_instant_meets_it_on_the_real_diagram(
        hub: Any, late: timedelta) -> None:
    """The issue's own case: the Early Help Hub's research on a GREEN contact and the
    decision on it, due Thursday 16:00 (72 hours), finished at 16:00 meet it and tell nobody
    of a breach; at 16:00:01 the breach was at 16:00 and the manager is told once."""
    from tests.pathways.test_first_response import (
        brag,
        decide,
        open_the_contact,
        receive,
        verify,
    )

    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    hub.advance(to="2026-11-23T16:00:00Z")
    open_the_contact(hub, contact)
    due = datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert hub.task(contact, "early_help_research")["due"] == due
    hub.advance(to=due + late)
    hub.complete(contact, "early_help_research", recommendations="Family support worker.")
    decide(hub, contact, "early_help")
    hub.advance(to=due + timedelta(days=1))
    research = hub.deadline(contact, "rag_timescale")
    breaches = hub.notifications(contact, "deadline_breach")
    if not late:
        assert (research["met"], research["breached_at"], breaches) == (True, None, [])
    else:
        assert (research["met"], research["breached_at"]) == (False, due)
        assert [n["sent_at"] for n in breaches] == [due]
