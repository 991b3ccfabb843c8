"""Running one instance: start it, complete a person's task, fire its timers, retry it.

Works on a SpiffWorkflow workflow in memory and reports what changed (`Advance`): the
elements completed, in order, with the sequence flow that led to each; the open human tasks
with their role, form and due time; the deadlines armed, met, breached; the instance's
state, outcome and next due time. The service layer persists that in one transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import EventSubprocess
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .bpmn.script_engine import MashScriptEngine
from .bpmn.specs import HandlerTask, instant
from .bpmn.state import StateWriter
from .diagrams import Element, ProcessModel

ENGINE = "engine"


class NotWaiting(Exception):
    """The instance is not waiting for that message (any more)."""


class TaskNotOpen(Exception):
    """The task is not waiting for a person (completed already, cancelled, or unknown)."""


@dataclass
class Version:
    """A deployed version of a process, ready to run: the spec, parsed once, and what the
    engine reads from its diagrams."""

    id: int
    process_id: str
    number: int
    hash: str
    spec: Any
    subprocess_specs: dict[str, Any]
    models: dict[str, ProcessModel]  # every process this version may run, by id
    elements: dict[tuple[str, str], Element] = field(default_factory=dict)

    flows: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for model in self.models.values():
            for element in model.elements.values():
                self.elements[(model.file, element.id)] = element
            for flow_id, (source, target) in model.flows.items():
                self.flows.setdefault((model.file, source, target), flow_id)

    def element(self, task: Task) -> Element | None:
        bpmn_id = task.task_spec.bpmn_id
        if bpmn_id is None:
            return None
        return self.elements.get((task.workflow.spec.file, bpmn_id))

    def flow(self, task: Task, source: str) -> str | None:
        return self.flows.get((task.workflow.spec.file, source, task.task_spec.bpmn_id))


@dataclass
class Deadline:
    name: str
    element_id: str
    timer_task_id: str
    activity_task_id: str | None
    started_at: datetime
    due: datetime
    done_at: datetime | None = None
    breached_at: datetime | None = None
    cancelled_at: datetime | None = None
    met: bool | None = None
    id: str | None = None
    changed: bool = True

    @property
    def open(self) -> bool:
        return self.done_at is None and self.cancelled_at is None and self.met is None

    @property
    def settled(self) -> bool:
        """Nothing more can happen to it."""
        return self.done_at is not None or self.cancelled_at is not None or (
            self.breached_at is not None and self.activity_task_id is None)


@dataclass
class Step:
    at: datetime
    actor: str
    action: str
    element_id: str | None
    element_name: str | None = None
    flow_id: str | None = None
    role: str | None = None
    changes: dict[str, Any] | None = None


@dataclass
class OpenTask:
    id: str
    element_id: str
    name: str
    role: str
    form: list[dict[str, Any]]
    due: datetime | None


@dataclass
class Advance:
    steps: list[Step]
    open_tasks: list[OpenTask]
    state: str
    outcome: str | None
    summary: dict[str, Any]
    next_due: datetime | None
    waiting_for: str | None
    error: str | None
    failed_element: str | None = None  # the element whose step failed (an incident)


@dataclass
class Live:
    """An instance in memory: its workflow and its deadline records."""

    id: str
    version: Version
    workflow: BpmnWorkflow
    deadlines: list[Deadline]
    outcome: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    open_tasks: dict[str, datetime | None] | None = None  # as stored; None: not yet read
    writer: StateWriter = field(default_factory=StateWriter)


HandlerRunner = Callable[[Task, str | None], None]

def summarise(data: dict[str, Any], summary: dict[str, Any],
              before: dict[str, Any] | None = None) -> None:
    """What lists show of an instance without opening it: its RAG, flags, and whom it is
    about (kept in the database beside the state, never in logs). `before`: the data the
    step started with; only what the step changed is taken, so a branch that carried an
    older value (a form completed beside an assessment that re-rated the contact) does not
    put it back."""
    if before is not None:  # (only the names read below are compared)
        data = {k: data[k] for k in _SUMMARISED
                if k in data and before.get(k, _MISSING) != data[k]}
    if "rag" in data:
        summary["rag"] = data["rag"]
    if "flags" in data:
        summary["flags"] = list(data["flags"] or [])
    child = data.get("child")
    if isinstance(child, dict):
        summary["child_name"] = child.get("name")
        summary["child_id"] = child.get("id")
        summary["child_dob"] = child.get("dob")  # the register's age band
    if isinstance(data.get("referrer"), dict):  # the register's source: never the name
        summary["source"] = {k: data["referrer"].get(k) for k in ("kind", "agency")}
    for name in ("channel", "received_at", "raised_at", "team"):
        if name in data:
            summary[name] = data[name]
    if isinstance(data.get("refers_to"), list):  # other instances this one is dealing with
        summary["refers_to"] = list(data["refers_to"])


_SUMMARISED = ("rag", "flags", "child", "referrer", "channel", "received_at", "raised_at",
               "team", "refers_to")


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _task(workflow: BpmnWorkflow, task_id: str | None) -> Task | None:
    if task_id is None:
        return None
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (ValueError, KeyError):
        return None


class Runner:
    """Carries out one command on one instance at the clock's current instant."""

    def __init__(self, live: Live, engine: MashScriptEngine, actor: str) -> None:
        self.live = live
        self.workflow = live.workflow
        self.engine = engine
        self.actor = actor
        self.now = engine.now()
        self.workflow.script_engine = engine
        self._done_before = {t.id for t in all_tasks(self.workflow)
                             if t.state == TaskState.COMPLETED}
        self.steps: list[Step] = []
        self._outcome_error: str | None = None

    # -- commands -----------------------------------------------------------------------
    #
    # Work done at a deadline's due instant meets it: every command runs with timers firing
    # only if due *before* now (`just_before_now`), so a timer due exactly now waits for
    # whatever else happens at this instant. Only `fire_timers(through_now=True)`, once the
    # instant is over (the virtual clock moves on), fires what is due at now itself.

    def start(self) -> Advance:
        self.steps.append(Step(self.now, self.actor, "started", None))
        with self.engine.just_before_now():
            return self._advance()

    def complete(self, task_id: str, values: dict[str, Any]) -> Advance:
        with self.engine.just_before_now():
            self._fire_overdue()
            task = _task(self.workflow, task_id)
            if task is None or not isinstance(task.task_spec, UserTask) \
                    or task.state != TaskState.READY:
                raise TaskNotOpen(task_id)
            task.data.update(copy.deepcopy(values))
            task.run()
            self._record(task, actor=self.actor, changes=dict(values))
            return self._advance()

    def fire_timers(self, through_now: bool = False) -> Advance:
        """Fire the timers due before now; `through_now`: also those due exactly now (the
        instant is over: nothing more will be done at it)."""
        if through_now:
            return self._advance()
        with self.engine.just_before_now():
            return self._advance()

    def deliver(self, name: str, payload: dict[str, Any]) -> Advance:
        """A message from another instance; its payload lands in the data as `name`."""
        with self.engine.just_before_now():
            self._fire_overdue()  # a timer that fell due before the message came wins the race
            waiting = [t for t in self.workflow.event_manager.tasks.values()
                       if any(getattr(d, "name", None) == name for d in _definitions(t))]
            if not waiting and not self._starts_on(name):
                raise NotWaiting(name)
            event = BpmnEvent(CamundaMessage(name),
                              payload={"payload": payload, "result_var": name})
            spec = self.workflow.spec
            outputs, ends = list(spec.start.outputs), list(spec.end.inputs)
            self.workflow.catch(event)
            for added in [s for s in spec.start.outputs if s not in outputs]:
                # Starting an event sub-process, SpiffWorkflow connects it to the process's
                # start and end in the spec, which every instance of the version shares: each
                # new instance would then start it at once, or wait at its end for it, for
                # ever. The triggered task keeps its own place in this workflow.
                spec.start.outputs = outputs
                spec.end.inputs = ends
                added.outputs = [s for s in added.outputs if s is not spec.end]
            self.steps.append(Step(self.now, self.actor, "message", None, name))
            return self._advance()

    def _starts_on(self, name: str) -> bool:
        """An event sub-process of the running process starts on this message (SpiffWorkflow
        starts one each time the message is caught; nothing waits for it beforehand)."""
        if self.workflow.completed:
            return False
        for spec_name in self.workflow.spec.start.trigger_specs:
            sub = self.workflow.subprocess_specs.get(spec_name)
            if sub is not None and any(getattr(s.event_definition, "name", None) == name
                                       for s in sub.bpmn_start_events):
                return True
        return False

    def retry(self) -> Advance:
        """Run again the steps that failed (a handler, a script, a condition, a timer that
        could not be set, an outcome that could not be worked out), with the data they had
        before they failed."""
        self._unfail()
        self.steps.append(Step(self.now, self.actor, "retried", None))
        with self.engine.just_before_now():
            return self._advance()

    def migrated(self, step: Step) -> Advance:
        """The instance was moved to another version (engine/migration.py): a step that had
        failed runs again there, and it carries on."""
        self._unfail()
        self.steps.append(step)
        with self.engine.just_before_now():
            return self._advance()

    def _unfail(self) -> None:
        """Failed steps back to where they were: a step that failed running is ready again;
        a timer or other waiting event that could not be set waits again (it is armed anew,
        never fired by its failure); an outcome is worked out again."""
        for task in all_tasks(self.workflow):
            if task.state == TaskState.ERROR:
                unfail(task)
        pending = self.live.summary.pop(_OUTCOME_FROM, None)
        task = _task(self.workflow, pending)
        if task is not None:
            self._take_outcome(task, self.live.version.element(task))

    def _fire_overdue(self) -> None:
        """Timers that fell due before now fire first, so a breach is recorded as it happened
        (one due exactly now does not: work done at the due instant meets it)."""
        due = self._next_due()
        if due is not None and due < self.now:
            self._run_engine()

    # -- the engine loop ----------------------------------------------------------------

    def _run_engine(self) -> str | None:
        """Run every automatic step that can run now; the error of a step that failed."""
        workflow = self.workflow
        try:
            while True:
                while workflow._do_engine_steps():
                    pass
                waiting = list(workflow.event_manager.tasks.values())
                workflow.refresh_timers()
                if not any(t.state == TaskState.READY for t in waiting):
                    break
        except Exception as err:
            if any(t.state == TaskState.ERROR for t in all_tasks(workflow)):
                return _describe(err)  # a step failed running: SpiffWorkflow marked it
            failed = getattr(err, "task", None)
            if failed is None or _task(workflow, str(failed.id)) is not failed:
                raise  # not a step's failure: the command fails and nothing is kept
            # A waiting event whose value could not be worked out (a timer over data no
            # check could foresee): it stops there as an incident, to wait again on retry.
            assert failed is not None
            failed._set_internal_data(**{_STATE_BEFORE_ERROR: failed.state})
            failed._set_state(TaskState.ERROR)
            workflow.event_manager.remove_task(failed)
            return _describe(err)
        return None

    def _advance(self) -> Advance:
        error = self._run_engine()
        finished: list[Task] = []
        open_user_tasks: list[Task] = []
        timers: list[Task] = []
        failed: Task | None = None
        for task in all_tasks(self.workflow):
            state = task.state
            if state == TaskState.COMPLETED:
                if task.id not in self._done_before:
                    finished.append(task)
            elif state == TaskState.READY:
                if isinstance(task.task_spec, UserTask):
                    open_user_tasks.append(task)
            elif state == TaskState.ERROR and failed is None:
                failed = task
            if _deadline_spec(task) is not None:
                timers.append(task)
        self._collect_steps(finished)
        self._track_deadlines(timers)
        if error is None and failed is not None:
            error = str(failed.internal_data.get("error", "a step failed"))
        if error is None and self._outcome_error is not None:
            error = self._outcome_error
        if error is not None:
            state_name = "incident"
        elif self.workflow.completed:
            state_name = "completed"
        else:
            state_name = "waiting"
        return Advance(
            steps=self.steps, open_tasks=self._open_tasks(open_user_tasks), state=state_name,
            outcome=self.live.outcome, summary=dict(self.live.summary),
            next_due=self._next_due(), waiting_for=self._waiting_for(), error=error,
            failed_element=failed.task_spec.bpmn_id if failed is not None else None,
        )

    # -- what happened ------------------------------------------------------------------

    def _collect_steps(self, finished: list[Task]) -> None:
        # A timer start event completes only after the first steps it spawned (SpiffWorkflow
        # runs a cycle timer that way): the process's start event goes first.
        finished.sort(key=lambda t: (not (isinstance(t.task_spec, StartEvent)
                                          and t.workflow.parent_workflow is None),
                                     t.last_state_change))
        for task in finished:
            self._done_before.add(task.id)
            if task.task_spec.bpmn_id is None:
                continue
            changes = None
            if isinstance(task.task_spec, HandlerTask | ScriptTask):
                parent = task.parent.data if task.parent is not None else {}
                changes = {k: v for k, v in task.data.items() if parent.get(k, _MISSING) != v}
            self._record(task, actor=ENGINE, changes=changes)
            if len(task.task_spec.inputs) > 1:
                self._record_joined(task)

    def _record_joined(self, join: Task) -> None:
        """A parallel join goes on from one of its incoming branches; each other branch that
        arrived is left as a cancelled copy of the join. Their flows were taken too."""
        for other in join.workflow.tasks.values():
            if (other.task_spec is join.task_spec and other.id not in self._done_before
                    and other.state == TaskState.CANCELLED and other.parent is not None
                    and other.parent.state == TaskState.COMPLETED):
                self._done_before.add(other.id)
                source = _previous_element(other)
                flow = self.live.version.flow(other, source) if source else None
                if flow:
                    self.steps.append(Step(self.now, ENGINE, "joined", other.task_spec.bpmn_id,
                                           None, flow))

    def _record(self, task: Task, actor: str, changes: dict[str, Any] | None) -> None:
        element = self.live.version.element(task)
        source = _previous_element(task)
        flow = self.live.version.flow(task, source) if source else None
        self.steps.append(Step(
            at=self.now, actor=actor, action="completed", element_id=task.task_spec.bpmn_id,
            element_name=element.name if element else None, flow_id=flow,
            role=element.role if element else None, changes=changes,
        ))
        self._done_before.add(task.id)
        self._take_outcome(task, element)
        if not _in_event_subprocess(task):  # which starts from the data the instance began with
            # A process's first step takes everything it starts with (the contact itself);
            # every later step only what it changed.
            parent = task.parent
            first = parent is None or getattr(parent.task_spec, "bpmn_id", None) is None
            summarise(task.data, self.live.summary, None if first else parent.data)

    def _take_outcome(self, task: Task, element: Element | None) -> None:
        """An end event's outcome becomes the instance's; one that cannot be worked out
        (an expression over data no check could foresee) is an incident, tried again on
        retry or after a migration, with the work before it kept."""
        if element is None or element.tag != "endEvent" or "outcome" not in element.properties:
            return
        try:
            self.live.outcome = self._outcome(task, element.properties["outcome"])
        except Exception as err:
            self.live.summary[_OUTCOME_FROM] = str(task.id)
            self._outcome_error = (f"{element.id}: the outcome "
                                   f"{element.properties['outcome']!r} could not be worked out: "
                                   f"{_describe(err)}")

    def _outcome(self, task: Task, value: str) -> str:
        """An outcome as written, or `${expression}` over the task data (Camunda's way)."""
        value = value.strip()
        if value.startswith("${") and value.endswith("}"):
            return str(self.engine.evaluate(task, value[2:-1]))
        return value

    def _track_deadlines(self, timers: list[Task]) -> None:
        known = {d.timer_task_id for d in self.live.deadlines}
        for task in timers:
            # CANCELLED too: a timer armed and disarmed in one command (the work it guards
            # was done at once) is a deadline started and met at the same instant.
            if (str(task.id) not in known
                    and task.state in (TaskState.WAITING, TaskState.COMPLETED,
                                       TaskState.CANCELLED)
                    and task._get_internal_data("event_value") is not None):
                self.live.deadlines.append(self._new_deadline(task))
        for deadline in self.live.deadlines:
            if not deadline.settled:
                self._update_deadline(deadline)

    def _new_deadline(self, timer: Task) -> Deadline:
        spec = _deadline_spec(timer)
        assert spec is not None
        since = spec.extensions.get("since")
        started = self.now
        if since:
            started = instant(self.engine.evaluate(timer, since))
        activity = None
        if timer.parent is not None and timer.parent.task_spec.__class__.__name__ == "BoundaryEventSplit":
            activity = next((c for c in timer.parent.children
                             if not isinstance(c.task_spec, CatchingEvent)), None)
        return Deadline(
            name=spec.extensions["deadline"], element_id=spec.bpmn_id,
            timer_task_id=str(timer.id),
            activity_task_id=str(activity.id) if activity is not None else None,
            started_at=started, due=instant(timer._get_internal_data("event_value")),
        )

    def _update_deadline(self, deadline: Deadline) -> None:
        timer = _task(self.workflow, deadline.timer_task_id)
        activity = _task(self.workflow, deadline.activity_task_id)
        if deadline.breached_at is None and timer is not None and _timer_fired(timer):
            deadline.breached_at = self.now
            deadline.met = False
            deadline.changed = True
            self.steps.append(Step(self.now, "timer", "deadline_breached", deadline.element_id,
                                   deadline.name))
        if activity is not None:
            if activity.state == TaskState.COMPLETED and deadline.done_at is None:
                deadline.done_at = self.now
                deadline.met = deadline.breached_at is None and self.now <= deadline.due
                deadline.changed = True
            elif activity.state == TaskState.CANCELLED and deadline.breached_at is None:
                deadline.cancelled_at = self.now
                deadline.changed = True
        elif timer is not None and deadline.breached_at is None and (
                timer.state == TaskState.CANCELLED or timer.state == TaskState.COMPLETED):
            # a timer raced against the work (event-based gateway) and the work won
            deadline.done_at = self.now
            deadline.met = self.now <= deadline.due
            deadline.changed = True
        elif timer is None and deadline.breached_at is None and deadline.done_at is None:
            deadline.cancelled_at = self.now
            deadline.changed = True

    def open_tasks(self) -> list[OpenTask]:
        """The tasks waiting for a person now, with their due instants."""
        return self._open_tasks([t for t in all_tasks(self.workflow) if t.state == TaskState.READY
                                 and isinstance(t.task_spec, UserTask)])

    def _open_tasks(self, ready: list[Task]) -> list[OpenTask]:
        found = []
        open_deadlines = [d for d in self.live.deadlines if d.done_at is None
                          and d.cancelled_at is None and d.activity_task_id]
        for task in ready:
            element = self.live.version.element(task)
            if element is None:
                continue
            dues = []
            if open_deadlines:
                lineage = _lineage(task)
                dues = [d.due for d in open_deadlines if d.activity_task_id in lineage]
            found.append(OpenTask(
                id=str(task.id), element_id=element.id, name=element.name or element.id,
                role=element.role or "", form=element.form, due=min(dues) if dues else None,
            ))
        return found

    def _next_due(self) -> datetime | None:
        dues = []
        for task in self.workflow.event_manager.tasks.values():
            for definition in _definitions(task):
                if isinstance(definition, TimerEventDefinition):
                    pending = definition.details(task)
                    if pending.value:
                        dues.append(instant(pending.value))
        return min(dues) if dues else None

    def _waiting_for(self) -> str | None:
        for task in self.workflow.event_manager.tasks.values():
            for definition in _definitions(task):
                if isinstance(definition, CamundaMessage):
                    return str(definition.name)
        return None


def unfail(task: Task) -> None:
    """A failed task back where it was before it failed: a step ready to run again, or an
    event (a timer that could not be set) waiting again, watched by SpiffWorkflow."""
    before = task.internal_data.pop(_STATE_BEFORE_ERROR, None)
    task._set_state(before if before is not None else TaskState.READY)
    if before == TaskState.WAITING:
        task.workflow.top_workflow.event_manager.add_task(task)


_MISSING = object()
_STATE_BEFORE_ERROR = "mash_state_before_error"
_OUTCOME_FROM = "outcome_from"  # the end event whose outcome is still to be worked out


def _definitions(task: Task) -> list[Any]:
    """The events a waiting task waits for: an event-based gateway waits for several (it
    takes them over from the catch events after it)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def _deadline_spec(task: Task) -> Any:
    """The timer event carrying a `deadline` property that this task is the timer of: the
    task's own spec, or, for an event-based gateway, the timer event after it. Asked of
    every task on every command: kept on the spec (shared by a version's instances)."""
    spec = task.task_spec
    found = spec.__dict__.get("_mash_deadline_spec", _MISSING)
    if found is _MISSING:
        found = spec._mash_deadline_spec = _find_deadline_spec(spec)
    return found


def _find_deadline_spec(spec: Any) -> Any:
    if isinstance(spec, EventBasedGateway):
        for child, definition in zip(spec.outputs, spec.event_definition.event_definitions,
                                     strict=False):
            if isinstance(definition, TimerEventDefinition) \
                    and "deadline" in getattr(child, "extensions", {}):
                return child
        return None
    if isinstance(spec, CatchingEvent) and "deadline" in getattr(spec, "extensions", {}) \
            and isinstance(spec.event_definition, TimerEventDefinition):
        return spec
    return None


def _timer_fired(task: Task) -> bool:
    """The deadline's timer went off (at an event-based gateway: the timer won the race)."""
    if task.state != TaskState.COMPLETED:
        return False
    if isinstance(task.task_spec, EventBasedGateway):
        return any(isinstance(seen.event_definition, TimerEventDefinition)
                   for seen in task.internal_data.get("seen_events", []))
    return True


def _previous_element(task: Task) -> str | None:
    """The nearest earlier BPMN element in the task tree: the source of the flow taken.
    A boundary event has none: it is attached to its activity, not reached by a flow."""
    child, parent = task, task.parent
    while parent is not None:
        if parent.task_spec.__class__.__name__ == "BoundaryEventSplit" and \
                isinstance(child.task_spec, CatchingEvent):
            return None
        if parent.task_spec.bpmn_id is not None:
            return str(parent.task_spec.bpmn_id)
        child, parent = parent, parent.parent
    return None


def _in_event_subprocess(task: Task) -> bool:
    """Kept on the (sub-)workflow: it is inside an event sub-process or not for its life."""
    workflow = task.workflow
    found = workflow.__dict__.get("_mash_in_event_subprocess")
    if found is None:
        found = workflow._mash_in_event_subprocess = _inside_event_subprocess(workflow)
    return bool(found)


def _inside_event_subprocess(workflow: Any) -> bool:
    while workflow.parent_task_id is not None:
        parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        if isinstance(parent.task_spec, EventSubprocess):
            return True
        workflow = parent.workflow
    return False


def _lineage(task: Task) -> set[str]:
    """The ids of a task and everything it sits inside (its sub-process tasks included)."""
    found: set[str] = set()
    current: Task | None = task
    while current is not None:
        found.add(str(current.id))
        parent = current.parent
        if parent is None:
            workflow = current.workflow
            parent_id = getattr(workflow, "parent_task_id", None)
            parent = workflow.top_workflow.get_task_from_id(parent_id) if parent_id else None
        current = parent
    return found


def _describe(err: BaseException) -> str:
    """What failed, where, and why: the step, SpiffWorkflow's message and the cause."""
    message = str(err).strip() or err.__class__.__name__
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause) not in message:
        message = f"{message} {cause.__class__.__name__}: {cause}"
    task = getattr(err, "task", None)
    if task is not None and getattr(task.task_spec, "bpmn_id", None):
        name = getattr(task.task_spec, "bpmn_name", None)
        message = f"{task.task_spec.bpmn_id}" + (f" \"{name}\"" if name else "") + f": {message}"
    return message[:2000]
