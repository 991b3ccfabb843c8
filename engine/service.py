"""The service layer: every use of the engine, each one transaction.

`Engine` is what the CLI, the HTTP API, the scheduler and the simulation call. A command on
an instance locks its row, takes its workflow (from memory when the cached copy is the
stored version, else from the database), runs it at the clock's instant, and writes back
state, open tasks, deadlines, history and outbox together; if anything fails, nothing is
written and the cached copy is dropped. Two commands on one instance never interleave: in
one process a lock per instance orders them; across processes the row lock (PostgreSQL) or
the write lock (SQLite) does, and `row_version` catches any stale copy.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.engine import Connection

from . import logs, registry
from .bpmn import state as workflow_state
from .bpmn.script_engine import MashScriptEngine, diagram_functions
from .bpmn.workflow import MashWorkflow
from .calendar import WorkingCalendar
from .calendar_config import calendar_for
from .clock import Clock, VirtualClock, iso_z
from .deployments import Deployments
from .directory import RoleDirectory, load_directory
from .forms import validate as validate_form
from .outbox import Messages, Outbox, backoff
from .registry import CaseRecords, HandlerContext, HandlerError, Services, StepWrites
from .runtime import (
    Advance,
    Deadline,
    Live,
    NotWaiting,
    OpenTask,
    Runner,
    TaskNotOpen,
    Version,
)
from .schedules import next_occurrence
from .store import (
    Prepared,
    Store,
    UTCDateTime,
    deadlines,
    history,
    human_tasks,
    instances,
    messages,
    schedules,
)

log = logging.getLogger("mash.engine")
logs.quiet_libraries()  # whoever runs the engine: SpiffWorkflow's task logs carry personal data

MAX_AUTOMATIC_RETRIES = 5


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """Someone else changed it first (the task was completed, the instance moved on)."""


class Forbidden(Exception):
    pass


class FormRejected(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Completed:
    instance_id: str
    state: str
    open_tasks: list[OpenTask]


CaseRecordsFactory = Callable[[Connection, StepWrites, Clock], CaseRecords]


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
        self.calendar: WorkingCalendar = calendar_for(processes)
        self.directory: RoleDirectory = load_directory(processes)
        self.deployments = Deployments(store)
        self._case_records = case_records
        self._cache: OrderedDict[str, tuple[int, Live]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._instance_locks: dict[str, threading.Lock] = {}
        self._functions = diagram_functions(clock, self.calendar)
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
        """Deploy the diagrams (new versions where they changed) and their start schedules."""
        results = self.deployments.deploy(paths or [self.processes], self.clock.now())
        self._update_schedules([r.process_id for r in results])
        return results

    def _schedule_engine(self) -> MashScriptEngine:
        """Evaluates start timers (`each_working_day("10:00")`): no instance, no handlers."""
        return MashScriptEngine(self.clock, self.calendar, None, self._functions)

    def _update_schedules(self, process_ids: list[str]) -> None:
        engine = self._schedule_engine()
        with self.store.transaction() as conn:
            current = {r.process_id: r for r in conn.execute(sa.select(schedules))}
            for process_id in process_ids:
                version = self.deployments.latest(process_id)
                expression = version.models[process_id].start_timer
                row = current.get(process_id)
                if expression is None:
                    if row is not None:
                        conn.execute(schedules.delete().where(schedules.c.process_id == process_id))
                    continue
                if row is not None and row.expression == expression:
                    continue
                next_at = next_occurrence(expression, self.clock.now(), engine)
                if row is None:
                    conn.execute(schedules.insert().values(
                        process_id=process_id, expression=expression, next_at=next_at))
                else:
                    conn.execute(schedules.update().where(schedules.c.process_id == process_id)
                                 .values(expression=expression, next_at=next_at))

    # -- commands -------------------------------------------------------------------------

    def start(self, process_id: str, data: dict[str, Any], actor: str = "engine", *,
              reference: str | None = None, about: str | None = None,
              instance_id: str | None = None,
              within: Callable[[Connection, Advance], None] | None = None) -> tuple[str, Advance]:
        """Start an instance of the newest version; returns its id and what happened.
        `within`: more writes to commit in the same transaction (an idempotency record)."""
        instance_id = instance_id or str(uuid.uuid4())
        if about is not None and (not isinstance(about, str) or len(about) > 36):
            raise ValueError("about must be the id of an instance (36 characters at most)")
        if reference is not None and len(reference) > 64:
            raise ValueError("reference must be 64 characters at most")
        with self._instance(instance_id):
            with self.store.transaction() as conn:
                live, advance, row_version, engine = self._start(
                    conn, process_id, data, actor, instance_id, reference, about)
                if within is not None:
                    within(conn, advance)
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
        with ExitStack() as held:
            for instance_id, _, _ in starts:
                held.enter_context(self._instance(instance_id))
            with self.store.transaction() as conn:
                started = [self._start(conn, process_id, data, actor, instance_id, reference,
                                       None) for instance_id, data, reference in starts]
                if within is not None:
                    within(conn, [advance for _, advance, _, _ in started])
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
        row_version = self._persist(conn, live, advance, 0, actor, new={
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
                live.open_tasks = {r.id: r.due for r in conn.execute(_OPEN_TASKS, {"b_id": live.id})}
            task = _find(runner.workflow, task_id)
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

    def fire_due(self, limit: int = 1000) -> int:
        """Deliver waiting messages, start scheduled processes that are due, fire the timers
        and retries that have fallen due; returns how many instances moved."""
        moved = self.deliver_messages() + self.start_scheduled()
        while moved < limit:
            now = self.clock.now()
            with self.store.reading() as conn:
                due = conn.execute(
                    sa.select(instances.c.id, instances.c.state)
                    .where(instances.c.next_due <= now)
                    .order_by(instances.c.next_due).limit(100)).all()
            if not due:
                return moved
            for instance_id, state in due:
                if state == "incident":
                    self._command(instance_id, "retry", lambda r, c: r.retry(), due_only=True)
                else:
                    self._command(instance_id, "timer", lambda r, c: r.fire_timers(), due_only=True)
                moved += 1
        return moved

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
            with self._instance(instance_id):
                with self.store.transaction() as conn:
                    query = sa.select(schedules).where(schedules.c.process_id == process_id,
                                                       schedules.c.next_at <= self.clock.now())
                    if self.store.dialect == "postgresql":
                        query = query.with_for_update(skip_locked=True)
                    row = conn.execute(query).first()
                    if row is None:
                        continue  # another service started it
                    live, advance, row_version, started_engine = self._start(
                        conn, process_id, {"scheduled_at": iso_z(row.next_at)}, "schedule",
                        instance_id, None, None)
                    conn.execute(schedules.update().where(schedules.c.process_id == process_id)
                                 .values(next_at=next_occurrence(row.expression, self.clock.now(),
                                                                 engine)))
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
                task = _find(live.workflow, task_id)
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

    def run_until(self, to: datetime, until_quiet: bool = False) -> int:
        """On a virtual clock: move it forward to `to`, stopping at each instant something
        falls due and firing it there, so every timer fires at its own time."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("only a virtual clock can be moved")
        moved = 0
        while True:
            due = self.next_due()
            if due is None or due > to:
                break
            if due > self.clock.now():
                self.clock.set(due)
            fired = self.fire_due()
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
                 due_only: bool = False,
                 within: Callable[[Connection, Advance], None] | None = None) -> Advance | None:
        """Run `action` on the instance in one transaction. `due_only`: only if a timer or
        retry is due (another service may have fired it first); None when it was not."""
        with self._instance(instance_id):
            try:
                with self.store.transaction() as conn:
                    found = self._lock.fetch_one(conn, {"b_id": instance_id,
                                                        "b_now": self.clock.now()})
                    if found is None:
                        raise NotFound(f"instance {instance_id}")
                    row_version, attempts, due = found
                    if due_only and not due:
                        return None  # another service fired it first
                    live = self._live(conn, instance_id, row_version)
                    engine = self._script_engine(conn, instance_id, live.version)
                    advance = action(Runner(live, engine, actor), conn)
                    row_version = self._persist(conn, live, advance, row_version, actor,
                                                attempts=attempts)
                    if within is not None:
                        within(conn, advance)
            except BaseException:
                self._forget(instance_id)
                raise
            self._remember(instance_id, row_version, live)
        self._observe(instance_id, advance)
        self._after(engine)
        return advance

    def _persist(self, conn: Connection, live: Live, advance: Advance, row_version: int,
                 actor: str, attempts: int = 0, new: dict[str, Any] | None = None) -> int:
        """Write what the command did; `new`: the columns of an instance not yet stored."""
        now = self.clock.now()
        next_due = advance.next_due
        if advance.state == "incident":
            attempts += 1
            next_due = backoff(attempts, now) if attempts <= MAX_AUTOMATIC_RETRIES else None
            log.warning("instance %s incident (attempt %d)", live.id, attempts)
        else:
            attempts = 0
        summary = advance.summary
        values = {
            "state": advance.state, "outcome": advance.outcome, "rag": summary.get("rag"),
            "flags": list(summary.get("flags") or []), "summary": summary, "next_due": next_due,
            "waiting_for": advance.waiting_for, "error": advance.error, "attempts": attempts,
            "ended_at": now if advance.state == "completed" else None,
            "row_version": row_version + 1, "workflow": live.writer.dump(live.workflow),
        }
        if new is not None:
            updated = _INSERT_INSTANCE.execute(conn, {**new, **values})
        else:
            updated = _UPDATE_INSTANCE.execute(
                conn, {"b_id": live.id, "b_row_version": row_version, **values})
        if updated != 1:
            raise Conflict(f"instance {live.id} was changed by someone else; try again")
        self._persist_tasks(conn, live, advance, actor, now)
        self._persist_deadlines(conn, live)
        steps = [{
            "instance_id": live.id, "at": s.at, "actor": s.actor, "action": s.action,
            "element_id": s.element_id, "element_name": s.element_name,
            "flow_id": s.flow_id, "role": s.role, "changes": s.changes,
        } for s in advance.steps]
        if advance.state == "incident":
            steps.append({"instance_id": live.id, "at": now, "actor": "engine",
                          "action": "incident", "element_id": None, "element_name": None,
                          "flow_id": None, "role": None, "changes": {"error": advance.error}})
        if steps:
            _INSERT_HISTORY.execute_many(conn, steps)
        return row_version + 1

    def _persist_tasks(self, conn: Connection, live: Live, advance: Advance, actor: str,
                       now: datetime) -> None:
        if live.open_tasks is None:
            live.open_tasks = {r.id: r.due for r in conn.execute(_OPEN_TASKS, {"b_id": live.id})}
        stored = live.open_tasks
        open_now = {t.id: t for t in advance.open_tasks}
        new = [t for t in advance.open_tasks if t.id not in stored]
        if new:
            _INSERT_TASK.execute_many(conn, [{
                "id": t.id, "instance_id": live.id, "element_id": t.element_id,
                "name": t.name, "role": t.role, "form": t.form, "created_at": now,
                "due": t.due, "status": "open",
            } for t in new])
        for task_id, due in stored.items():
            if task_id in open_now:
                if open_now[task_id].due != due:
                    _UPDATE_TASK.execute(conn, {"b_id": task_id, "due": open_now[task_id].due})
                continue
            self._task_owner.pop(task_id, None)  # (a lookup in the database finds it again)
            task = _find(live.workflow, task_id)
            completed = task is not None and task.state == TaskState.COMPLETED
            _UPDATE_TASK.execute(conn, {
                "b_id": task_id, "status": "completed" if completed else "cancelled",
                "completed_at": now, "completed_by": actor if completed else None})
        live.open_tasks = {t.id: t.due for t in advance.open_tasks}

    def _persist_deadlines(self, conn: Connection, live: Live) -> None:
        for deadline in live.deadlines:
            if not deadline.changed:
                continue
            values = {
                "name": deadline.name, "element_id": deadline.element_id,
                "timer_task_id": deadline.timer_task_id,
                "activity_task_id": deadline.activity_task_id,
                "started_at": deadline.started_at, "due": deadline.due,
                "done_at": deadline.done_at, "breached_at": deadline.breached_at,
                "cancelled_at": deadline.cancelled_at, "met": deadline.met,
            }
            if deadline.id is None:
                deadline.id = str(uuid.uuid4())
                _INSERT_DEADLINE.execute(conn, {"id": deadline.id, "instance_id": live.id, **values})
            else:
                _UPDATE_DEADLINE.execute(conn, {"b_id": deadline.id, **values})
            deadline.changed = False

    # -- instances in memory --------------------------------------------------------------

    def _live(self, conn: Connection, instance_id: str, row_version: int) -> Live:
        with self._cache_lock:
            cached = self._cache.get(instance_id)
            if cached is not None and cached[0] == row_version:
                self._cache.move_to_end(instance_id)
                return cached[1]
        row = conn.execute(_INSTANCE, {"b_id": instance_id}).first()
        if row is None:
            raise NotFound(f"instance {instance_id}")
        version = self.deployments.version(row.version_id)
        text = row.workflow
        workflow = workflow_state.load(text, version.spec, version.subprocess_specs)
        records = [_deadline(r) for r in conn.execute(_DEADLINES, {"b_id": row.id})]
        summary = dict(row.summary or {})
        return Live(row.id, version, workflow, records, outcome=row.outcome, summary=summary)

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
        writes = StepWrites(conn)
        services = Services(
            clock=self.clock, calendar=self.calendar, connection=conn, writes=writes,
            notifier=Outbox(writes, self.clock),
            case_records=self._case_records(conn, writes, self.clock), directory=self.directory,
            messages=Messages(writes, self.clock),
        )

        def run_handler(task: Task, topic: str | None) -> None:
            handler = registry.lookup(topic or "")
            if handler is None:
                raise HandlerError(f"no handler is registered for topic {topic!r}")
            element = version.element(task)
            context = HandlerContext(
                instance_id=instance_id, process_id=version.process_id,
                element_id=task.task_spec.bpmn_id,
                element_name=(element.name or element.id) if element else "",
                properties=dict(element.properties) if element else {},
                data=copy.deepcopy(task.data), services=services,
            )
            try:
                result = handler(context)
            except BaseException:
                writes.finish(ok=False)
                raise
            writes.finish(ok=True)
            task.data.clear()
            task.data.update(context.data)
            if result:
                task.data.update(result)

        engine = MashScriptEngine(self.clock, self.calendar, run_handler, self._functions)
        engine.messages = services.messages
        return engine


_b = sa.bindparam
_UPDATE_INSTANCE = Prepared(instances.update().where(
    instances.c.id == _b("b_id"), instances.c.row_version == _b("b_row_version")))
_INSERT_INSTANCE = Prepared(instances.insert())
_LOCK = sa.select(
    instances.c.row_version, instances.c.attempts,
    sa.and_(instances.c.next_due.is_not(None), instances.c.next_due <= _b("b_now", type_=UTCDateTime)),
).where(instances.c.id == _b("b_id"))
_INSTANCE = sa.select(instances).where(instances.c.id == _b("b_id"))
_DEADLINES = sa.select(deadlines).where(deadlines.c.instance_id == _b("b_id"))
_TASK = sa.select(human_tasks).where(human_tasks.c.id == _b("b_id"))
_TASK_OWNER = sa.select(human_tasks.c.instance_id).where(human_tasks.c.id == _b("b_id"))
_OPEN_TASKS = sa.select(human_tasks.c.id, human_tasks.c.due).where(
    human_tasks.c.instance_id == _b("b_id"), human_tasks.c.status == "open")
_INSERT_TASK = Prepared(human_tasks.insert())
_UPDATE_TASK = Prepared(human_tasks.update().where(human_tasks.c.id == _b("b_id")))
_INSERT_DEADLINE = Prepared(deadlines.insert())
_UPDATE_DEADLINE = Prepared(deadlines.update().where(deadlines.c.id == _b("b_id")))
_INSERT_HISTORY = Prepared(history.insert())
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


def _find(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    try:
        return workflow.get_task_from_id(uuid.UUID(task_id))
    except (ValueError, KeyError):
        return None


def _deadline(row: Any) -> Deadline:
    return Deadline(
        name=row.name, element_id=row.element_id, timer_task_id=row.timer_task_id,
        activity_task_id=row.activity_task_id, started_at=row.started_at, due=row.due,
        done_at=row.done_at, breached_at=row.breached_at, cancelled_at=row.cancelled_at,
        met=row.met, id=row.id, changed=False,
    )
