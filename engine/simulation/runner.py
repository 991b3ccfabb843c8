"""Running a scenario: the real diagrams, handlers and engine on a virtual clock, with
scripted people answering the tasks after their working time.

At each instant, in this order: people finish work due then (so work done exactly at a
deadline meets it), contacts and disagreements arrive, then timers and schedules fire.
"""

from __future__ import annotations

import heapq
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import diagrams, forms
from ..clock import VirtualClock, iso_z
from ..runtime import Advance, OpenTask
from ..service import Conflict, Engine, FormRejected
from ..store import Store
from .scenario import Contact, Disagreement, Scenario, ScenarioError

CONTACT_PROCESS = "first_response"
DISAGREEMENT_PROCESS = "escalation"
LONGEST_RUN = timedelta(days=3 * 366)
# The same task of one contact asked this often is a loop whatever its data (a backstop: a
# loop is normally caught the second time a task comes round with nothing changed).
MOST_VISITS = 50


@dataclass(order=True)
class _Work:
    due: datetime
    seq: int
    task: OpenTask = field(compare=False)
    values: dict[str, Any] = field(compare=False)
    who: str = field(compare=False)


@dataclass
class Run:
    scenario: Scenario
    engine: Engine
    store: Store
    contacts: dict[str, str]  # scenario contact id -> instance id (its first child's)
    disagreements: dict[str, str]
    started_at: datetime
    ended_at: datetime
    # scenario contact id -> each child's instance id, in the contact's order (issue 17)
    children: dict[str, list[str]] = field(default_factory=dict)


Progress = Callable[[int, int], None]


class Simulation:
    def __init__(self, scenario: Scenario, processes: Path, database_url: str | None = None,
                 progress: Progress | None = None) -> None:
        # (Python's garbage collector is left as it is here, unlike in `mash serve`
        # (engine/collector.py): settled, a year's shard held 830 MiB instead of 656, for no
        # CPU saved: 184.4 against 182.5 s for 4,000 contacts)
        self.scenario = scenario
        self.processes = processes
        self.database_url = database_url
        self.progress = progress
        self._folder: Path | None = None

    # -- set-up -----------------------------------------------------------------------------

    def _open(self) -> tuple[Engine, Store, VirtualClock]:
        if self.database_url is None:
            self._folder = Path(tempfile.mkdtemp(prefix="mash-simulate-"))
            # A throwaway database: nothing to keep across a power cut.
            store = Store(f"sqlite:///{self._folder / 'simulation.sqlite'}", synchronous="OFF")
        else:
            store = Store(self.database_url)
        store.create()
        clock = VirtualClock(self.scenario.start)
        # Instances in flight at once (a few days' contacts) stay in memory; about 0.3 MiB each.
        engine = Engine(store, clock, self.processes, cache_size=1024)
        try:
            engine.deploy()
        except diagrams.DiagramError as err:
            raise ScenarioError(f"the diagrams in {self.processes} do not validate:\n{err}") from None
        if self.scenario.case_records:
            from handlers.case_records import seed_children

            with store.transaction() as conn:
                seed_children(conn, self.scenario.case_records)
        return engine, store, clock

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Run:
        engine, store, clock = self._open()
        self.engine, self.clock = engine, clock
        self._by_instance: dict[str, Contact | Disagreement] = {}
        # Instance ids are given out up front, so a disagreement raised before the contact it
        # is about arrives (docs/scenarios.md's own example) still links to it.
        self._children_of: dict[str, list[str]] = {
            c.id: [self._new_id() for _ in range(c.children)] for c in self.scenario.contacts}
        self._contact_of: dict[str, str] = {c: ids[0] for c, ids in self._children_of.items()}
        self._child_number: dict[str, int] = {}  # instance id -> its child's place in its contact
        self._disagreement_of: dict[str, str] = {}
        self._stage_asked: dict[str, int] = {}
        # per instance in flight: element id -> (times asked, its data the last time)
        self._visits: dict[str, dict[str, tuple[int, str | None]]] = {}
        self._work: list[_Work] = []
        self._scheduled: set[str] = set()
        self._seq = 0
        self._active: set[str] = set()
        self._ended = 0
        self._failure: ScenarioError | None = None
        engine.observers.append(self._observe)

        arrivals: list[tuple[datetime, int, Contact | Disagreement]] = [
            (c.received_at, i, c) for i, c in enumerate(self.scenario.contacts)]
        arrivals += [(d.raised_at, len(arrivals) + i, d)
                     for i, d in enumerate(self.scenario.disagreements)]
        arrivals.sort(key=lambda a: (a[0], a[1]))
        total = len(arrivals)
        started_at = clock.now()
        limit = self.scenario.start + LONGEST_RUN
        next_arrival = 0
        while next_arrival < len(arrivals) or self._active:
            candidates = []
            if self._work:
                candidates.append(self._work[0].due)
            if next_arrival < len(arrivals):
                candidates.append(arrivals[next_arrival][0])
            due = engine.next_due()
            if due is not None:
                candidates.append(due)
            if not candidates:
                raise self._stuck()
            at = max(min(candidates), clock.now())
            if at > limit:
                raise self._stuck()
            if at > clock.now():
                clock.set(at)
            if self._work and self._work[0].due <= at:
                while self._work and self._work[0].due <= at:
                    self._complete(heapq.heappop(self._work))
            elif next_arrival < len(arrivals) and arrivals[next_arrival][0] <= at:
                while next_arrival < len(arrivals) and arrivals[next_arrival][0] <= at:
                    self._arrive(arrivals[next_arrival][2])
                    next_arrival += 1
            else:
                engine.fire_due()
            if self._failure is not None:
                raise self._failure
            if self.progress is not None:
                self.progress(self._ended, total)
        return Run(self.scenario, engine, store, dict(self._contact_of), dict(self._disagreement_of),
                   started_at, clock.now(), {c: list(ids) for c, ids in self._children_of.items()})

    def _arrive(self, item: Contact | Disagreement) -> None:
        if isinstance(item, Contact):
            data = dict(item.contact)
            data["received_at"] = iso_z(item.received_at)
            ids = self._children_of[item.id]
            for number, instance_id in enumerate(ids):
                self._by_instance[instance_id] = item
                self._child_number[instance_id] = number
                self._active.add(instance_id)
            if len(ids) == 1:
                self.engine.start(CONTACT_PROCESS, data, "simulation", reference=item.id,
                                  instance_id=ids[0])
            else:  # one instance per child, together (as POST /contacts starts them)
                from handlers.intake import per_child

                self.engine.start_together(CONTACT_PROCESS, [
                    (instance_id, child, item.id if n == 0 else f"{item.id}/{n + 1}")
                    for n, (instance_id, child) in enumerate(zip(ids, per_child(data, ids),
                                                                 strict=True))], "simulation")
        else:
            about = self._contact_of.get(item.about) if item.about else None
            data = {"raised_at": iso_z(item.raised_at), "about": about, "summary": item.summary,
                    "informal_attempt_failed": True}
            if item.raised_by:
                data["raised_by"] = item.raised_by
            instance_id = self._new_id()
            self._by_instance[instance_id] = item
            self._disagreement_of[item.id] = instance_id
            self._active.add(instance_id)
            self.engine.start(DISAGREEMENT_PROCESS, data, "simulation", reference=item.id,
                              about=about, instance_id=instance_id)

    def _new_id(self) -> str:
        import uuid

        return str(uuid.uuid4())

    # -- people -----------------------------------------------------------------------------

    def _observe(self, instance_id: str, advance: Advance) -> None:
        if self._failure is not None:
            return
        owner = self._by_instance.get(instance_id)
        if advance.state == "incident":
            name = f"{_kind(owner)} {owner.id}" if owner else f"instance {instance_id}"
            self._failure = ScenarioError(f"{name}: a step failed: {advance.error}")
            return
        if advance.state == "completed":
            self._visits.pop(instance_id, None)
        if advance.state == "completed" and instance_id in self._active:
            self._active.discard(instance_id)
            self._ended += 1
        for task in advance.open_tasks:
            if task.id in self._scheduled:
                continue
            self._scheduled.add(task.id)
            try:
                self._plan(instance_id, owner, task)
            except ScenarioError as err:
                self._failure = err
                return

    def _plan(self, instance_id: str, owner: Contact | Disagreement | None, task: OpenTask) -> None:
        now = self.clock.now()
        if isinstance(owner, Disagreement):
            asked = self._stage_asked.get(instance_id, 0)
            self._stage_asked[instance_id] = asked + 1
            if asked >= len(owner.stages):
                return  # this stage never responds: its deadline passes
            stage = owner.stages[asked]
            values = {"resolved": stage.resolved, "reasons": stage.reasons}
            due = self.engine.calendar.add_working_time(now, stage.after) \
                if stage.after > timedelta(0) else now
            self._push(due, task, self._answer(task, values, owner, None), f"disagreement {owner.id}")
            return
        context: dict[str, Any] | None = None
        child = self._child_number.get(instance_id, 0)
        if owner is None:  # a scheduled process's task: a PPN rating belongs to its contact
            context = self.engine.task_data(task.id)
            ppn = context.get("ppn")
            if isinstance(ppn, dict):
                owner = self._by_instance.get(ppn.get("instance_id", ""))
                child = self._child_number.get(ppn.get("instance_id", ""), 0)
        if isinstance(owner, Contact):
            context = self._not_looping(instance_id, owner, task, context)
        work = owner.time_for(task.role) if isinstance(owner, Contact) else timedelta(0)
        due = self.engine.calendar.add_working_time(now, work) if work > timedelta(0) else now
        answers = owner.answers_for(child) if isinstance(owner, Contact) else {}
        values = self._answer(task, answers, owner, context)
        self._push(due, task, values, f"contact {owner.id}" if owner else "the schedule")

    def _not_looping(self, instance_id: str, owner: Contact, task: OpenTask,
                     context: dict[str, Any] | None) -> dict[str, Any] | None:
        """Scripted answers never change, so a task that comes round again to find the data as
        it was the last time will send the contact round the same loop for ever: stop the run
        naming the contact and the task (docs/scenarios.md). A task's first visit costs nothing."""
        asked = self._visits.setdefault(instance_id, {})
        visits, seen = asked.get(task.element_id, (0, None))
        state = None
        if visits:
            if context is None:
                context = self.engine.task_data(task.id)
            state = repr(sorted(context.items(), key=lambda item: item[0]))
        if (visits and state == seen) or visits >= MOST_VISITS:
            raise ScenarioError(
                f"contact {owner.id}: its answers send it round the same loop for ever: task "
                f"{task.name!r} ({task.element_id}) came round again with nothing changed; "
                "change the answers so the loop ends")
        asked[task.element_id] = (visits + 1, state)
        return context

    def _answer(self, task: OpenTask, answers: dict[str, Any], owner: Any,
                context: dict[str, Any] | None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        defaults: dict[str, Any] | None = None
        for form_field in task.form:
            name = form_field["id"]
            if name in answers:
                values[name] = answers[name]
            elif form_field.get("required"):
                if context is None:
                    context = self.engine.task_data(task.id)
                if defaults is None:
                    defaults = forms.prefilled(task.form, context)
                if name in defaults:  # prefilled in the form: the person confirms it
                    values[name] = defaults[name]
                elif context.get(name) is not None:  # prefilled: the person accepts it
                    values[name] = context[name]
                else:
                    who = f"{_kind(owner)} {owner.id}" if owner else "a scheduled process"
                    raise ScenarioError(f"{who}: task {task.name!r} ({task.element_id}) asks for "
                                        f"{name!r}, which its answers do not give")
        return values

    def _push(self, due: datetime, task: OpenTask, values: dict[str, Any], who: str) -> None:
        self._seq += 1
        heapq.heappush(self._work, _Work(due, self._seq, task, values, who))

    def _complete(self, work: _Work) -> None:
        try:
            self.engine.complete(work.task.id, work.values, f"simulation ({work.task.role})")
        except Conflict:
            pass  # the task was gone by then (its deadline interrupted it): the answer is late
        except FormRejected as err:
            first = err.errors[0]
            raise ScenarioError(f"{work.who}: task {work.task.name!r} ({work.task.element_id}) "
                                f"refused {first['field']!r}: {first['message']}") from None

    def _stuck(self) -> ScenarioError:
        waiting = sorted(self._active)[:1]
        if not waiting:
            return ScenarioError("the run stopped with nothing left to do")
        owner = self._by_instance.get(waiting[0])
        name = f"{_kind(owner)} {owner.id}" if owner else waiting[0]
        return ScenarioError(f"{name} never ends: it waits for something the scenario does "
                             "not give (see `mash show` on a kept --database)")


def _kind(owner: Any) -> str:
    return "disagreement" if isinstance(owner, Disagreement) else "contact"
