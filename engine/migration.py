"""Moving running instances to another version of their process, modelled on Camunda 7's
migration plans.

A plan names the process, the version the instances run (source) and the one they move to
(target), and instructions: source element id -> target element id. Without an instruction
an element maps to the element of the same id. The plan is checked before anything moves:
every instruction must name an element of the source and one of the same kind in the target,
and every instance's waiting tasks and timers (and a step that failed) must map to an element
of the target; where one does not, nothing moves and the refusal lists each (instance,
element), so the owner can add an instruction. Then each instance moves in one transaction:
its waiting tasks keep their ids and data and take the target's element (name, role, form);
its timers keep their due instants, unless the owner asks to re-arm a deadline under the
target's rules (`rearm`: the timer is armed again as if reached now, or from its `since`);
a step that failed (an incident) runs again on the target at once; history records the move.

What the instance has already passed stays in its history as it happened: an element the
target no longer has is kept there under a placeholder, never asked for again.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.engine import Connection

from . import rows
from .bpmn import state as workflow_state
from .bpmn.specs import instant
from .errors import Conflict
from .runtime import Advance, Live, Runner, Step, Version, all_tasks, unfail
from .store import human_tasks, instances, process_versions

if TYPE_CHECKING:
    from .service import Engine

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE
PLACEHOLDER = "Start"  # every process spec has it: what a passed, removed element becomes


class PlanError(ValueError):
    """The plan cannot run: every problem, each naming what to do."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Plan:
    process_id: str
    source: int  # version numbers
    target: int
    mapping: dict[str, str] = field(default_factory=dict)  # source element -> target element
    rearm: frozenset[str] = frozenset()  # target timer elements to arm again under the target
    drop: frozenset[str] = frozenset()  # source boundary events the target lacks: cancelled

    def maps(self, name: str) -> str:
        """A task spec's name in the target: `review_task` and the specs SpiffWorkflow makes
        around it (`review_task.BoundaryEventSplit`, `rate_ppns [child]`) follow its
        instruction."""
        base = element_of(name)
        return self.mapping[base] + name[len(base):] if base in self.mapping else name


def element_of(name: str) -> str:
    """The BPMN element a task spec stands for (element ids have no dot or space)."""
    return re.split(r"[. ]", name, maxsplit=1)[0]


@dataclass(frozen=True)
class Unmapped:
    instance_id: str
    element_id: str
    element_name: str | None
    boundary: bool = False  # a boundary event: it may be dropped instead
    elsewhere: str | None = None  # the target has it, in another (sub-)process: this one

    def __str__(self) -> str:
        name = f' "{self.element_name}"' if self.element_name else ""
        where = f"instance {self.instance_id} is at {self.element_id}{name}, which the target"
        if self.elsewhere is not None:
            return (f"{where} version has only inside {self.elsewhere}: work does not move into "
                    "or out of a sub-process or called process; give an instruction to an "
                    "element beside it, or let it finish first")
        return (f"{where} version does not have: give an instruction "
                f"{self.element_id}=TARGET_ELEMENT"
                + (f", or --drop {self.element_id} to cancel it at the move"
                   if self.boundary else ""))


@dataclass
class Moved:
    instance_id: str
    state: str
    error: str | None


@dataclass
class Report:
    plan: Plan
    instances: list[str]
    moved: list[Moved] = field(default_factory=list)
    dry_run: bool = False
    refused: list[str] = field(default_factory=list)  # someone else moved them meanwhile


def migrate(engine: Engine, plan: Plan, instance_ids: Iterable[str] | None = None,
            actor: str = "operator", dry_run: bool = False) -> Report:
    """Check the plan against every instance, then move each (unless `dry_run`), each in its
    own transaction. Raises PlanError listing every problem, before anything moves. An
    instance someone else moved or changed meanwhile is not moved: it is listed in
    `Report.refused`."""
    source, target = _versions(engine, plan)
    _check_instructions(plan, source, target)
    chosen = _instances(engine, plan, source, instance_ids)
    problems: list[str] = []
    waiting_timers: set[str] = set()
    for instance_id in chosen:
        found, waits_at = _check_instance(engine, plan, instance_id, source, target)
        problems.extend(found)
        waiting_timers |= waits_at
        if instance_ids is not None:  # an instance named: each timer to re-arm must be its
            problems.extend(_not_waiting(plan, instance_id, waits_at))
    if instance_ids is None and chosen:
        problems.extend(_not_waiting(plan, None, waiting_timers))
    if problems:
        raise PlanError(problems)
    report = Report(plan, chosen, dry_run=dry_run)
    if dry_run:
        return report
    for instance_id in chosen:
        try:
            advance = _move(engine, plan, instance_id, source, target, actor)
        except (_MovedMeanwhile, Conflict) as err:
            report.refused.append(f"instance {instance_id} was not moved: {err}")
            continue
        report.moved.append(Moved(instance_id, advance.state, advance.error))
    return report


def _not_waiting(plan: Plan, instance_id: str | None, waits_at: set[str]) -> list[str]:
    who = f"instance {instance_id} is" if instance_id else "no instance of the plan is"
    return [f"{who} not waiting at {timer} of {plan.process_id} v{plan.target}: only a "
            "timer an instance waits at can be re-armed; leave out --rearm " + timer
            + (f" (it waits at {', '.join(sorted(waits_at))})" if waits_at else "")
            for timer in sorted(plan.rearm) if timer not in waits_at]


class _MovedMeanwhile(Exception):
    pass


# -- checking ---------------------------------------------------------------------------------


def _versions(engine: Engine, plan: Plan) -> tuple[Version, Version]:
    with engine.store.reading() as conn:
        found = dict(conn.execute(
            sa.select(process_versions.c.version, process_versions.c.id)
            .where(process_versions.c.process_id == plan.process_id,
                   process_versions.c.version.in_([plan.source, plan.target]))).all())
    problems = [f"{plan.process_id} has no version {n}: deploy it first (mash deploy); "
                "see `mash versions`"
                for n in sorted({plan.source, plan.target}) if n not in found]
    if plan.source == plan.target:
        problems.append(f"the source and target versions are the same ({plan.process_id} "
                        f"v{plan.source}): give --to another version")
    if problems:
        raise PlanError(problems)
    return engine.deployments.version(found[plan.source]), \
        engine.deployments.version(found[plan.target])


def _specs(version: Version) -> dict[str, Any]:
    """Every task spec the version runs, by name: its process and the processes it calls."""
    found: dict[str, Any] = dict(version.spec.task_specs)
    for sub in version.subprocess_specs.values():
        for name, spec in sub.task_specs.items():
            found.setdefault(name, spec)
    return found


def _check_instructions(plan: Plan, source: Version, target: Version) -> None:
    before, after = _specs(source), _specs(target)
    problems = []
    for old, new in sorted(plan.mapping.items()):
        if old not in before:
            problems.append(f"{old} is not an element of {plan.process_id} v{plan.source}")
        elif new not in after:
            problems.append(f"{new} is not an element of {plan.process_id} v{plan.target}")
        elif type(before[old]) is not type(after[new]):
            problems.append(f"{old} ({_kind(before[old])}) cannot become {new} "
                            f"({_kind(after[new])}): map an element to one of the same kind")
    for element in sorted(plan.drop):
        spec = before.get(element)
        if spec is None or not isinstance(spec, BoundaryEvent):
            problems.append(f"{element} is not a boundary event of {plan.process_id} "
                            f"v{plan.source}; only a boundary event can be dropped")
        elif element in after or element in plan.mapping:
            problems.append(f"{element} is in {plan.process_id} v{plan.target} (or mapped): "
                            f"it moves; leave out --drop {element}")
    for element in sorted(plan.rearm):
        spec = after.get(element)
        if spec is None or not _is_timer(spec):
            problems.append(f"{element} is not a timer of {plan.process_id} v{plan.target}; "
                            "only a timer can be re-armed")
    if problems:
        raise PlanError(problems)


def _kind(spec: Any) -> str:
    return type(spec).__name__


def _is_timer(spec: Any) -> bool:
    return isinstance(getattr(spec, "event_definition", None), TimerEventDefinition)


def _instances(engine: Engine, plan: Plan, source: Version,
               instance_ids: Iterable[str] | None) -> list[str]:
    if instance_ids is None:
        with engine.store.reading() as conn:
            return sorted(conn.execute(
                sa.select(instances.c.id).where(instances.c.version_id == source.id,
                                                instances.c.state != "completed")).scalars())
    chosen = list(dict.fromkeys(instance_ids))
    with engine.store.reading() as conn:
        rows = {r.id: r for r in conn.execute(
            sa.select(instances.c.id, instances.c.process_id, instances.c.state,
                      process_versions.c.version)
            .join(process_versions, process_versions.c.id == instances.c.version_id)
            .where(instances.c.id.in_(chosen)))}
    problems = []
    for i in chosen:
        row = rows.get(i)
        if row is None:
            problems.append(f"there is no instance {i}")
        elif row.process_id != plan.process_id:
            problems.append(f"instance {i} runs {row.process_id}, not {plan.process_id}")
        elif row.state == "completed":
            problems.append(f"instance {i} has finished: a finished instance stays on the "
                            f"version it ran (v{row.version})")
        elif row.version != plan.source:
            problems.append(f"instance {i} runs {plan.process_id} v{row.version}, not "
                            f"v{plan.source}: give --from-version {row.version}")
    if problems:
        raise PlanError(problems)
    return chosen


def _check_instance(engine: Engine, plan: Plan, instance_id: str, source: Version,
                    target: Version) -> tuple[list[str], set[str]]:
    """What stops the instance moving (its waiting tasks, timers and failed steps the target
    has no element for, after the plan's instructions; a called process the target does not
    run), and the target timers it waits at."""
    with engine.store.reading() as conn:
        live = rows.load(conn, instance_id, engine.deployments)
    return _fits(live.workflow, plan, instance_id, target)


def _fits(workflow: Any, plan: Plan, instance_id: str,
          target: Version) -> tuple[list[str], set[str]]:
    problems: list[str] = []
    waits_at: set[str] = set()
    unmapped: set[str] = set()
    for flow, specs in _flows(workflow, plan, target):
        active = [t for t in flow.tasks.values() if t.state & ACTIVE]
        if specs is None:
            if active and flow.spec.name not in unmapped:  # (listed already if so)
                problems.append(
                    f"instance {instance_id} is inside {flow.spec.name}, which {plan.process_id} "
                    f"v{plan.target} does not run: give an instruction "
                    f"{flow.spec.name}=TARGET_SUB_PROCESS, or let it finish first")
            continue
        for task in active:
            name = plan.maps(task.task_spec.name)
            if _dropped(task, plan):
                continue
            if name not in specs:
                element = element_of(task.task_spec.name)
                unmapped.add(element)
                problems.append(str(Unmapped(instance_id, element,
                                             getattr(task.task_spec, "bpmn_name", None),
                                             isinstance(task.task_spec, BoundaryEvent),
                                             _inside(target, name))))
            elif task.state == TaskState.WAITING:
                waits_at |= {n for n in _timer_names(specs[name])}
    return problems, waits_at


def _inside(version: Version, name: str) -> str | None:
    """The process, sub-process or called process of the version that has this element."""
    if name in version.spec.task_specs:
        return version.process_id
    return next((sub_name for sub_name, sub in version.subprocess_specs.items()
                 if name in sub.task_specs), None)


def _dropped(task: Any, plan: Plan) -> bool:
    """A waiting boundary event the owner asked to drop (the target has no such event)."""
    return task.state == TaskState.WAITING and isinstance(task.task_spec, BoundaryEvent) \
        and task.task_spec.name in plan.drop


def _timer_names(spec: Any) -> set[str]:
    """The timer elements a task of this spec waits for: its own, or (an event-based gateway)
    those of the events after it."""
    names = {spec.name} if _is_timer(spec) else set()
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        names |= {o.name for o in getattr(spec, "outputs", []) if _is_timer(o)}
    return names


def _flows(workflow: Any, plan: Plan, target: Version) -> list[tuple[Any, dict[str, Any] | None]]:
    """The top workflow and each sub-workflow, with the target's specs it runs on (None: the
    target runs no such process)."""
    found: list[tuple[Any, dict[str, Any] | None]] = [(workflow, dict(target.spec.task_specs))]
    for sub in workflow.subprocesses.values():
        spec = target.subprocess_specs.get(plan.maps(sub.spec.name))
        found.append((sub, dict(spec.task_specs) if spec is not None else None))
    return found


# -- moving -----------------------------------------------------------------------------------


def _move(engine: Engine, plan: Plan, instance_id: str, source: Version, target: Version,
          actor: str) -> Advance:
    rearmed: list[str] = []
    armed: list[str] = []
    dropped: list[str] = []

    def load(conn: Connection, row_version: int) -> Live:
        live = rows.load(conn, instance_id, engine.deployments)  # never the cached one: changed
        if live.version.id != source.id:
            raise _MovedMeanwhile(f"someone else moved it to v{live.version.number} meanwhile")
        changed, _ = _fits(live.workflow, plan, instance_id, target)
        if changed:  # it went on since the plan was checked, to where the plan does not fit
            raise _MovedMeanwhile("it changed since the plan was checked: " + "; ".join(changed))
        dropped.extend(_drop(live.workflow, plan))
        workflow = _rewritten(live.workflow, plan, target)
        for deadline in live.deadlines:
            deadline.element_id = plan.maps(deadline.element_id)
            deadline.changed = True
        armed.extend(_arm_new_boundary_events(workflow))
        rearmed.extend(_rearm(workflow, plan))
        return Live(instance_id, target, workflow, live.deadlines, outcome=live.outcome,
                    summary=live.summary)

    def action(runner: Runner, conn: Connection) -> Advance:
        step = Step(runner.now, actor, "migrated", None, None, changes={
            "from_version": plan.source, "to_version": plan.target,
            "instructions": dict(plan.mapping), "rearmed": sorted(plan.rearm),
            **({"dropped": sorted(plan.drop)} if plan.drop else {})})
        closed = _close_dropped(runner, dropped)  # before the run: tasks are due without them
        advance = runner.migrated(step)
        for each in closed:
            _after(runner, step, each)
        changed = _new_dues(runner, rearmed, step)  # the tasks they run on are due then too
        _record_armed(runner, armed, step)
        if changed:
            advance.open_tasks = runner.open_tasks()
        return advance

    def within(conn: Connection, advance: Advance) -> None:
        # Tasks waiting for a person keep their ids: they take the target's element.
        for task in advance.open_tasks:
            conn.execute(human_tasks.update().where(
                human_tasks.c.id == task.id, human_tasks.c.status == "open").values(
                element_id=task.element_id, name=task.name, role=task.role, form=task.form,
                due=task.due))

    advance = engine._command(instance_id, actor, action, within=within, load=load)
    assert advance is not None
    return advance


def _rewritten(workflow: Any, plan: Plan, target: Version) -> Any:
    """The instance's workflow read again on the target's specs, every element mapped: each
    task takes the target's spec of its (mapped) name, written and read back through the
    state functions, so nothing of the source's specs stays wired in."""
    for flow, specs in _flows(workflow, plan, target):
        if specs is None:  # a finished call the target no longer makes: history only
            del workflow.subprocesses[flow.parent_task_id]
            continue
        if flow is not workflow:
            flow.spec = target.subprocess_specs[plan.maps(flow.spec.name)]
        for task in flow.tasks.values():
            task.task_spec = specs.get(plan.maps(task.task_spec.name), specs[PLACEHOLDER])
    moved = workflow_state.load(workflow_state.dump(workflow), target.spec,
                                target.subprocess_specs)
    for flow in [moved, *moved.subprocesses.values()]:
        for task in list(flow.tasks.values()):
            if task.id not in flow.tasks or not task.state & ACTIVE:
                continue
            if task.state == TaskState.ERROR:  # the failed step runs (or waits) again there
                unfail(task)
            for child in list(task.children):  # what it predicted of the source's flows
                if child.state & PREDICTED:
                    flow._remove_task(child.id)
            task.task_spec._predict(task, mask=ACTIVE | PREDICTED)
        for task in list(flow.tasks.values()):  # passed elements the target lacks: history
            if task.id in flow.tasks and task.task_spec.name == PLACEHOLDER \
                    and task.state & PREDICTED:
                flow._remove_task(task.id)
    return moved


def _arm_new_boundary_events(workflow: Any) -> list[str]:
    """Boundary events the target has on an activity the instance is at, and the source did
    not: as Camunda 7 does for an event it introduces, each is set up now, so a timer is armed
    under the target's rule when the instance next runs (its expression read at the move:
    from now, or from the instant it names). Returns the new timers' task ids."""
    armed = []
    for flow in [workflow, *workflow.subprocesses.values()]:
        for task in list(flow.tasks.values()):
            if not task.state & (TaskState.READY | TaskState.STARTED) \
                    or isinstance(task.task_spec, BoundaryEvent):
                continue
            split_spec = next((s for s in task.task_spec.inputs
                               if isinstance(s, BoundaryEventSplit)), None)
            if split_spec is None:
                continue
            split = task.parent
            if split is None or split.task_spec is not split_spec:
                split = _insert_split(flow, task, split_spec)
            present = {c.task_spec for c in split.children}
            for spec in split_spec.outputs:
                if spec in present or not isinstance(spec, BoundaryEvent):
                    continue
                event = split._add_child(spec, TaskState.WAITING)
                event.data = copy.deepcopy(split.data)
                workflow.event_manager.add_task(event)
                spec._predict(event, mask=PREDICTED)
                armed.append(str(event.id))
    return armed


def _insert_split(flow: Any, task: Any, split_spec: Any) -> Any:
    """Put the target's boundary-event split between the task and its parent, as if the task
    had been reached on the target: completed, with the task's data."""
    parent = task.parent
    split = Task(flow, split_spec, parent=parent, state=TaskState.COMPLETED)
    if parent is not None:  # the split takes the task's place among its parent's children
        parent._children.remove(split.id)
        parent._children[parent._children.index(task.id)] = split.id
    split.data = copy.deepcopy(task.data)
    split._children = [task.id]
    task._parent = split.id
    return split


def _drop(workflow: Any, plan: Plan) -> list[str]:
    """Cancel the waiting boundary events the owner dropped (the target has none such), as
    Camunda 7 removes the event of a boundary event no instruction maps. Their task ids."""
    dropped = []
    for task in list(all_tasks(workflow)):
        if _dropped(task, plan):
            task._set_state(TaskState.CANCELLED)
            workflow.event_manager.remove_task(task)
            dropped.append(str(task.id))
    return dropped


def _close_dropped(runner: Runner, dropped: list[str]) -> list[Step]:
    """A dropped deadline is closed, cancelled at the move; the history steps that say so."""
    steps = []
    for deadline in runner.live.deadlines:
        if deadline.timer_task_id in dropped and deadline.open:
            deadline.cancelled_at = runner.now
            deadline.changed = True
            steps.append(Step(runner.now, runner.actor, "deadline_dropped", deadline.element_id,
                              deadline.name, changes={"due": deadline.due.isoformat()}))
    return steps


def _record_armed(runner: Runner, armed: list[str], moved: Step) -> None:
    """History names each deadline the move armed, and when it is due, next to the move
    (before a breach the move's own run found)."""
    for deadline in runner.live.deadlines:
        if deadline.timer_task_id in armed:
            _after(runner, moved, Step(runner.now, runner.actor, "deadline_armed",
                                       deadline.element_id, deadline.name,
                                       changes={"due": deadline.due.isoformat(),
                                                "started_at": deadline.started_at.isoformat()}))


def _after(runner: Runner, moved: Step, step: Step) -> None:
    """Put the step in the history just after the move's (and those put there before it)."""
    at = runner.steps.index(moved) + 1
    while at < len(runner.steps) and runner.steps[at].action in _SET_BY_THE_MOVE:
        at += 1
    runner.steps.insert(at, step)


_SET_BY_THE_MOVE = {"deadline_armed", "deadline_rearmed", "deadline_dropped"}


def _rearm(workflow: Any, plan: Plan) -> list[str]:
    """Forget the due instant of the waiting timers the owner asked to re-arm: the target's
    expression arms them again when the instance next runs. Returns their task ids."""
    rearmed = []
    for task in all_tasks(workflow):
        if task.state == TaskState.WAITING and _timer_names(task.task_spec) & plan.rearm:
            task.internal_data.pop("event_value", None)
            task.internal_data.pop("event_fired", None)
            rearmed.append(str(task.id))
    return rearmed


def _new_dues(runner: Runner, rearmed: list[str], moved: Step) -> bool:
    """A re-armed deadline is due when the target's rules say, from now (or its `since`)."""
    changed = False
    for deadline in runner.live.deadlines:
        if deadline.timer_task_id not in rearmed or not deadline.open:
            continue
        timer = runner.workflow.get_task_from_id(_uuid(deadline.timer_task_id))
        value = timer._get_internal_data("event_value")
        if isinstance(value, dict):
            value = value.get("next")
        if value is not None:
            deadline.due = instant(value)
            deadline.changed = True
            _after(runner, moved, Step(runner.now, runner.actor, "deadline_rearmed",
                                       deadline.element_id, deadline.name,
                                       changes={"due": deadline.due.isoformat()}))
            changed = True
    return changed


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)

