"""The service layer: every use of the engine, each one transaction.

`Engine` is what the CLI, the HTTP API, the scheduler and the simulation call. A command on
an instance locks its row, takes its workflow (from memory when the cached copy is the
stored version, else from the database), runs it at the clock's instant, and writes back
state, open tasks, deadlines, history and outbox together; if anything fails, nothing is
written and the cached copy is dropped. Two commands on one instance never interleave: in
one process a lock per instance orders them; across processes the row lock (PostgreSQL) or
the write lock (SQLite) does, and `row_version` catches any stale copy.

Beside it: engine/rows.py writes what a command did as rows and reads an instance back;
engine/steps.py runs a service task's handler; engine/deployments.py and engine/schedules.py
keep versions, configuration and start schedules; engine/migration.py moves instances
between versions; engine/outbox.py and engine/incidents.py deliver notifications and show
what is stuck.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import logs, registry, rows, steps
from .bpmn.script_engine import MashScriptEngine, diagram_functions
from .bpmn.workflow import MashWorkflow
from .calendar import WorkingCalendar
from .clock import Clock, VirtualClock, iso_z
from .deployments import Deployments
from .directory import RoleDirectory
from .errors import Conflict, Forbidden, FormRejected, NotFound
from .forms import validate as validate_form
from .group_commit import BatchFailed
from .registry import CaseRecords, StepWrites
from .runtime import (
    Advance,
    Live,
    NotWaiting,
    OpenTask,
    Runner,
    TaskNotOpen,
    Version,
)
from .schedules import next_occurrence, update_schedules
from .steps import CaseRecordsFactory
from .store import (
    Prepared,
    Store,
    UTCDateTime,
    human_tasks,
    instances,
    messages,
    schedules,
)

log = logging.getLogger("mash.engine")
logs.quiet_libraries()  # whoever runs the engine: SpiffWorkflow's task logs carry personal data

REFRESH_SECONDS = 1.0  # how stale a service's view of the newest deployment may be


@dataclass(frozen=True)
class Completed:
    instance_id: str
    state: str
    open_tasks: list[OpenTask]




def _default_case_records(conn: Connection, writes: StepWrites, clock: Clock) -> CaseRecords:
    from handlers.case_records import SqlCaseRecords

    return SqlCaseRecords(conn, writes, clock)


class Engine:
    def __init__(
        self, store: Store, clock: Clock, processes: Path, *,
        case_records: CaseRecordsFactory = _default_case_records, cache_size: int = 512,
    ) -> None:
        self.store = store
        self.clock = clock
        self.processes = processes
        self.deployments = Deployments(store)
        self.calendar: WorkingCalendar
        self.directory: RoleDirectory
        self._functions: dict[str, Callable[..., Any]]
        self._generation = -1  # the deployment this engine runs (-1: not read yet)
        self._checked = 0.0
        self._case_records = case_records
        self._cache: OrderedDict[str, tuple[int, Live]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._instance_locks: dict[str, threading.Lock] = {}
        self.refresh(force=True)
        # Told of every committed command: (instance id, what happened). The simulation
        # uses it to see tasks open; it must not call back into the engine.
        self.observers: list[Callable[[str, Advance], None]] = []
        self._task_owner: dict[str, str] = {}  # open task id -> instance id, for this process
        # The instance's row version, locked for the command on PostgreSQL (SQLite's BEGIN
        # IMMEDIATE already holds the write lock), and whether a timer or retry is due.
        self._lock = Prepared(_LOCK.with_for_update() if store.dialect == "postgresql" else _LOCK)
        registry.load_handlers()

    # -- deployments ----------------------------------------------------------------------

    def deploy(self, paths: list[Path] | None = None) -> list[Any]:
        """Deploy the diagrams (new versions where they changed), the calendar and directory
        beside them, and their start schedules."""
        results = self.deployments.deploy(paths or [self.processes], self.clock.now())
        self._update_schedules([r.process_id for r in results])
        self.refresh(force=True)
        return results

    def refresh(self, force: bool = False) -> bool:
        """Take up a deployment made elsewhere (`mash deploy`, another service): new
        instances start on its versions, and its calendar and directory apply from now on.
        Checked at most once a second (and on every scheduler tick); True when it changed."""
        checked = time.monotonic()
        if not force and checked - self._checked < REFRESH_SECONDS:
            return False
        self._checked = checked
        generation = self.deployments.generation()
        if generation == self._generation:
            return False
        calendar, directory = self.deployments.configuration(generation, self.processes)
        self.deployments.forget()
        self.calendar, self.directory = calendar, directory
        self._functions = diagram_functions(self.clock, calendar)
        if self._generation >= 0:
            log.info("deployment %d taken up", generation)
        self._generation = generation
        return True

    @property
    def generation(self) -> int:
        """The deployment this engine runs (0: nothing deployed)."""
        return max(self._generation, 0)

    def _schedule_engine(self) -> MashScriptEngine:
        """Evaluates start timers (`each_working_day("10:00")`): no instance, no handlers."""
        return MashScriptEngine(self.clock, self.calendar, None, self._functions)

    def _update_schedules(self, process_ids: list[str]) -> None:
        versions = {pid: self.deployments.latest(pid) for pid in process_ids}
        update_schedules(self.store, {pid: v.models[pid].start_timer for pid, v in versions.items()},
                         self.clock.now(), self._schedule_engine())

    # -- commands -------------------------------------------------------------------------

    def start(self, process_id: str, data: dict[str, Any], actor: str = "engine", *,
              reference: str | None = None, about: str | None = None,
              instance_id: str | None = None,
              within: Callable[[Connection, Advance], None] | None = None) -> tuple[str, Advance]:
        """Start an instance of the newest version; returns its id and what happened.
        `within`: more writes to commit in the same transaction (an idempotency record)."""
        instance_id = instance_id or str(uuid.uuid4())
        self.refresh()
        if about is not None and (not isinstance(about, str) or len(about) > 36):
            raise ValueError("about must be the id of an instance (36 characters at most)")
        if reference is not None and len(reference) > 64:
            raise ValueError("reference must be 64 characters at most")
        def work(conn: Connection) -> tuple[Live, Advance, int, MashScriptEngine]:
            started = self._start(conn, process_id, data, actor, instance_id, reference, about)
            if within is not None:
                within(conn, started[1])
            return started

        with self._instance(instance_id):
            live, advance, row_version, engine = self._unit(work)
            self._remember(instance_id, row_version, live)
        self._observe(instance_id, advance)
        self._after(engine)
        return instance_id, advance

    def start_together(self, process_id: str,
                       starts: list[tuple[str, dict[str, Any], str | None]],
                       actor: str = "engine",
                       within: Callable[[Connection, list[Advance]], None] | None = None
                       ) -> list[Advance]:
        """Start several instances in one transaction, all or none: the children one contact
        names (issue 17). `starts`: (instance id, data, reference) each, in order."""
        self.refresh()
        if any(reference is not None and len(reference) > 64 for _, _, reference in starts):
            raise ValueError("reference must be 64 characters at most")
        with ExitStack() as held:
            for instance_id, _, _ in starts:
                held.enter_context(self._instance(instance_id))

            def work(conn: Connection) -> list[tuple[Live, Advance, int, MashScriptEngine]]:
                done = [self._start(conn, process_id, data, actor, instance_id, reference,
                                    None) for instance_id, data, reference in starts]
                if within is not None:
                    within(conn, [advance for _, advance, _, _ in done])
                return done

            started = self._unit(work)
            for (instance_id, _, _), (live, _, row_version, _) in zip(starts, started,
                                                                       strict=True):
                self._remember(instance_id, row_version, live)
        for (instance_id, _, _), (_, advance, _, _) in zip(starts, started, strict=True):
            self._observe(instance_id, advance)
        for _, _, _, engine in started:
            self._after(engine)
        return [advance for _, advance, _, _ in started]

    def _start(self, conn: Connection, process_id: str, data: dict[str, Any], actor: str,
               instance_id: str, reference: str | None, about: str | None
               ) -> tuple[Live, Advance, int, MashScriptEngine]:
        version = self.deployments.latest(process_id)
        engine = self._script_engine(conn, instance_id, version)
        workflow = MashWorkflow(version.spec, version.subprocess_specs, script_engine=engine)
        for task in workflow.get_tasks():
            task.data.update(copy.deepcopy(data))
        live = Live(instance_id, version, workflow, [], open_tasks={})
        advance = Runner(live, engine, actor).start()
        row_version = rows.persist(conn, live, advance, 0, actor, self.clock.now(),
                                   self._task_owner, new={
            "id": instance_id, "process_id": version.process_id, "version_id": version.id,
            "started_at": self.clock.now(), "reference": reference, "about": about})
        return live, advance, row_version, engine

    def _observe(self, instance_id: str, advance: Advance) -> None:
        for observer in self.observers:
            observer(instance_id, advance)

    def _after(self, engine: MashScriptEngine) -> None:
        """Once a command has committed: deliver the messages it queued."""
        if engine.messages.queued:
            self.deliver_messages()

    def complete(self, task_id: str, values: Any, actor: str,
                 roles: set[str] | None = None,
                 within: Callable[[Connection, Advance], None] | None = None) -> Completed:
        """A person completes a task. `roles`: the caller's roles (None: not checked)."""
        instance_id = self._task_owner.get(task_id)
        if instance_id is None:
            with self.store.reading() as conn:
                instance_id = conn.execute(_TASK_OWNER, {"b_id": task_id}).scalar()
            if instance_id is None:
                raise NotFound(f"task {task_id}")

        def run(runner: Runner, conn: Connection) -> Advance:
            live = runner.live
            if live.open_tasks is None:
                live.open_tasks = rows.open_tasks(conn, live.id)
            task = rows.find_task(runner.workflow, task_id)
            element = live.version.element(task) if task is not None else None
            if task_id not in live.open_tasks or element is None:
                row = conn.execute(_TASK, {"b_id": task_id}).first()
                if row is None:
                    raise NotFound(f"task {task_id}")
                if roles is not None and row.role not in roles and "admin" not in roles:
                    raise Forbidden(f"task {task_id} belongs to another role")
                raise Conflict(f"task {task_id} was already {row.status}"
                               + (f" by {row.completed_by}" if row.completed_by else ""))
            if roles is not None and element.role not in roles and "admin" not in roles:
                raise Forbidden(f"task {task_id} belongs to another role")
            assert task is not None  # an element was found for it
            clean, errors = validate_form(element.form, values, task.data)
            if errors:
                raise FormRejected(errors)
            try:
                return runner.complete(task_id, clean)
            except TaskNotOpen:
                raise Conflict(f"task {task_id} is no longer open") from None

        advance = self._command(instance_id, actor, run, within=within)
        assert advance is not None
        return Completed(instance_id, advance.state, advance.open_tasks)

    def fire_due(self, limit: int = 1000, through_now: bool = True) -> int:
        """Deliver waiting messages, start scheduled processes that are due, fire the timers
        and retries that have fallen due; returns how many instances moved.

        `through_now`: what is due exactly now fires too: the caller has done everything it
        will do at this instant (the virtual clock is moving on; the simulation has done
        the instant's work). The scheduler on the system clock passes False: it fires what
        is due before now, so a deadline is breached only once its due instant has passed."""
        moved = self.deliver_messages() + self.start_scheduled()
        while moved < limit:
            by = self._fires_by(through_now)
            with self.store.reading() as conn:
                due = conn.execute(
                    sa.select(instances.c.id, instances.c.state)
                    .where(instances.c.next_due <= by)
                    .order_by(instances.c.next_due).limit(100)).all()
            if not due:
                return moved
            for instance_id, state in due:
                if state == "incident":
                    self._command(instance_id, "retry", lambda r, c: r.retry(), due_only=by)
                else:
                    self._command(instance_id, "timer",
                                  lambda r, c: r.fire_timers(through_now), due_only=by)
                moved += 1
        return moved

    def _fires_by(self, through_now: bool) -> datetime:
        now = self.clock.now()
        return now if through_now else now - timedelta(microseconds=1)

    def deliver_messages(self) -> int:
        delivered = 0
        while True:
            with self.store.reading() as conn:
                pending = conn.execute(sa.select(messages).where(messages.c.delivered_at.is_(None))
                                       .order_by(messages.c.created_at).limit(100)).all()
            if not pending:
                return delivered
            for message in pending:
                self._deliver(message)
                delivered += 1

    def _deliver(self, message: Any) -> None:
        def run(runner: Runner, conn: Connection) -> Advance:
            taken = conn.execute(_MARK_DELIVERED, {"b_id": message.id,
                                                   "delivered_at": self.clock.now()}).rowcount
            if taken != 1:
                raise _AlreadyDelivered
            return runner.deliver(message.name, dict(message.payload))

        try:
            self._command(message.instance_id, "message", run)
        except _AlreadyDelivered:
            pass
        except (NotWaiting, NotFound):
            with self.store.transaction() as conn:
                conn.execute(_MARK_DELIVERED, {"b_id": message.id, "delivered_at": self.clock.now(),
                                               "note": "the instance was not waiting for it"})
            log.warning("message %s for instance %s was not awaited", message.name,
                        message.instance_id)

    def start_scheduled(self) -> int:
        """Start one instance of each timer-started process whose time has come."""
        started = 0
        engine = self._schedule_engine()
        with self.store.reading() as conn:
            due = [r.process_id for r in conn.execute(
                sa.select(schedules.c.process_id).where(schedules.c.next_at <= self.clock.now()))]
        for process_id in due:
            instance_id = str(uuid.uuid4())
            def work(conn: Connection, process_id: str = process_id, instance_id: str = instance_id
                     ) -> tuple[Live, Advance, int, MashScriptEngine] | None:
                query = sa.select(schedules).where(schedules.c.process_id == process_id,
                                                   schedules.c.next_at <= self.clock.now())
                if self.store.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = conn.execute(query).first()
                if row is None:
                    return None  # another service started it
                found = self._start(conn, process_id, {"scheduled_at": iso_z(row.next_at)},
                                    "schedule", instance_id, None, None)
                conn.execute(schedules.update().where(schedules.c.process_id == process_id)
                             .values(next_at=next_occurrence(row.expression, self.clock.now(),
                                                             engine)))
                return found

            with self._instance(instance_id):
                found = self._unit(work)
                if found is None:
                    continue
                live, advance, row_version, started_engine = found
                self._remember(instance_id, row_version, live)
            self._observe(instance_id, advance)
            self._after(started_engine)
            started += 1
        return started

    def task_data(self, task_id: str) -> dict[str, Any]:
        """An open task's data as the person doing it sees it (the contact, earlier answers)."""
        instance_id = self._task_owner.get(task_id)
        with self.store.reading() as conn:
            if instance_id is None:
                instance_id = conn.execute(_TASK_OWNER, {"b_id": task_id}).scalar()
                if instance_id is None:
                    raise NotFound(f"task {task_id}")
            with self._instance(instance_id):
                row_version = conn.execute(
                    sa.select(instances.c.row_version).where(instances.c.id == instance_id)
                ).scalar_one()
                live = self._live(conn, instance_id, row_version)
                self._remember(instance_id, row_version, live)
                task = rows.find_task(live.workflow, task_id)
                if task is None:
                    raise NotFound(f"task {task_id}")
                return copy.deepcopy(dict(task.data))

    def next_due(self) -> datetime | None:
        """The soonest instant at which something is due: a timer, a retry, a scheduled start
        (now, if a message waits to be delivered). One round trip: the simulation and the
        virtual clock ask it between every step."""
        with self.store.reading() as conn:
            row = _NEXT_DUE.fetch_one(conn, {})
        assert row is not None
        timer, scheduled, pending = row
        if pending:
            return self.clock.now()
        dues = [_utc(d) for d in (timer, scheduled) if d is not None]
        return min(dues) if dues else None

    def run_until(self, to: datetime, through: bool = False) -> int:
        """On a virtual clock: move it forward to `to`, stopping at each instant something
        falls due and firing it there, so every timer fires at its own time.

        What falls due exactly at `to` does not fire yet: the caller may still do work at
        `to`, and work done at a deadline's due instant meets it. It fires, at `to`, when
        the clock next moves on, or now with `through` (the caller is done with `to`)."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("only a virtual clock can be moved")
        moved = 0
        while True:
            due = self.next_due()
            if due is None or due > to or (due == to and not through):
                break
            if due > self.clock.now():
                self.clock.set(due)
            # Leaving this instant for a later one: what is due at it fires now, after
            # whatever the caller did at it.
            fired = self.fire_due(through_now=through or self.clock.now() < to)
            if fired == 0 and self.next_due() == due:
                raise RuntimeError(f"something is due at {due} but nothing fired")
            moved += fired
        if to > self.clock.now():
            self.clock.set(to)
        return moved

    def retry(self, instance_id: str, actor: str) -> str:
        advance = self._command(instance_id, actor, lambda r, c: r.retry())
        assert advance is not None
        return advance.state

    # -- the unit of work -----------------------------------------------------------------

    def _command(self, instance_id: str, actor: str,
                 action: Callable[[Runner, Connection], Advance],
                 due_only: datetime | None = None,
                 within: Callable[[Connection, Advance], None] | None = None,
                 load: Callable[[Connection, int], Live] | None = None) -> Advance | None:
        """Run `action` on the instance in one transaction. `due_only`: only if a timer or
        retry is due by then (another service may have fired it first); None when not.
        `load`: how to read the instance (a migration reads it on another version)."""
        self.refresh()

        def work(conn: Connection) -> tuple[Live, Advance, int, MashScriptEngine] | None:
            found = self._lock.fetch_one(conn, {"b_id": instance_id,
                                                "b_now": due_only or self.clock.now()})
            if found is None:
                raise NotFound(f"instance {instance_id}")
            row_version, attempts, due, state = found
            if due_only is not None and not due:
                return None  # another service fired it first
            live = load(conn, row_version) if load is not None \
                else self._live(conn, instance_id, row_version)
            engine = self._script_engine(conn, instance_id, live.version)
            advance = action(Runner(live, engine, actor), conn)
            since = rows.incident_since(conn, instance_id) if state == "incident" else None
            row_version = rows.persist(conn, live, advance, row_version, actor,
                                       self.clock.now(), self._task_owner,
                                       attempts=attempts, incident_since=since)
            if within is not None:
                within(conn, advance)
            return live, advance, row_version, engine

        with self._instance(instance_id):
            try:
                done = self._unit(work, lambda: self._forget(instance_id))
            except BaseException:
                self._forget(instance_id)
                raise
            if done is None:
                return None
            live, advance, row_version, engine = done
            self._remember(instance_id, row_version, live)
        self._observe(instance_id, advance)
        self._after(engine)
        return advance

    def _unit(self, work: Callable[[Connection], _T],
              forget: Callable[[], None] | None = None) -> _T:
        """`work` in one transaction. On SQLite it may share its commit with commands that
        arrived together (engine/group_commit.py); if that commit fails, nothing of the batch
        was kept and `work` runs again in a transaction of its own, from what is stored
        (`forget`: drop what the first run left in memory), so a command that cannot commit
        fails alone and the others go through."""
        try:
            with self.store.transaction() as conn:
                return work(conn)
        except BatchFailed:
            if forget is not None:
                forget()
            with self.store.transaction(alone=True) as conn:
                return work(conn)

    # -- instances in memory --------------------------------------------------------------

    def _live(self, conn: Connection, instance_id: str, row_version: int) -> Live:
        with self._cache_lock:
            cached = self._cache.get(instance_id)
            if cached is not None and cached[0] == row_version:
                self._cache.move_to_end(instance_id)
                return cached[1]
        return rows.load(conn, instance_id, self.deployments)

    def _remember(self, instance_id: str, row_version: int, live: Live) -> None:
        if live.workflow.completed:  # nothing more will happen to it: free the memory
            self._forget(instance_id)
            return
        with self._cache_lock:
            for task_id in live.open_tasks or {}:
                self._task_owner[task_id] = instance_id
            self._cache[instance_id] = (row_version, live)
            self._cache.move_to_end(instance_id)
            while len(self._cache) > self._cache_size:
                _, (_, dropped) = self._cache.popitem(last=False)
                for task_id in dropped.open_tasks or {}:
                    self._task_owner.pop(task_id, None)

    def _forget(self, instance_id: str) -> None:
        with self._cache_lock:
            dropped = self._cache.pop(instance_id, None)
            for task_id in (dropped[1].open_tasks or {}) if dropped else {}:
                self._task_owner.pop(task_id, None)

    @contextmanager
    def _instance(self, instance_id: str) -> Iterator[None]:
        with self._cache_lock:
            lock = self._instance_locks.setdefault(instance_id, threading.Lock())
        with lock:
            yield

    # -- handlers -------------------------------------------------------------------------

    def _script_engine(self, conn: Connection, instance_id: str, version: Version) -> MashScriptEngine:
        return steps.script_engine(conn, instance_id, version, self.clock, self.calendar,
                                   self.directory, self._functions, self._case_records)

_T = TypeVar("_T")
_b = sa.bindparam
_LOCK = sa.select(
    instances.c.row_version, instances.c.attempts,
    sa.and_(instances.c.next_due.is_not(None), instances.c.next_due <= _b("b_now", type_=UTCDateTime)),
    instances.c.state,
).where(instances.c.id == _b("b_id"))
_TASK = sa.select(human_tasks).where(human_tasks.c.id == _b("b_id"))
_TASK_OWNER = sa.select(human_tasks.c.instance_id).where(human_tasks.c.id == _b("b_id"))
_MARK_DELIVERED = messages.update().where(messages.c.id == _b("b_id"),
                                          messages.c.delivered_at.is_(None))


_NEXT_DUE = Prepared(sa.select(
    sa.select(sa.func.min(instances.c.next_due)).scalar_subquery(),
    sa.select(sa.func.min(schedules.c.next_at)).scalar_subquery(),
    sa.exists().where(messages.c.delivered_at.is_(None))))


def _utc(value: Any) -> datetime:
    """An instant as the driver returns it from a bare select (SQLite: text) made aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _AlreadyDelivered(Exception):
    pass




__all__ = ["Completed", "Conflict", "Engine", "Forbidden", "FormRejected", "NotFound"]
