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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.engine import Connection

from . import rows
from .bpmn import state as workflow_state
from .bpmn.specs import instant
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

    def maps(self, name: str) -> str:
        """A task spec's name in the target: `review_task` and the specs SpiffWorkflow makes
        around it (`review_task.BoundaryEventSplit`) follow its instruction."""
        base, dot, rest = name.partition(".")
        return self.mapping[base] + dot + rest if base in self.mapping else name


@dataclass(frozen=True)
class Unmapped:
    instance_id: str
    element_id: str
    element_name: str | None

    def __str__(self) -> str:
        name = f' "{self.element_name}"' if self.element_name else ""
        return (f"instance {self.instance_id} is at {self.element_id}{name}, which the target "
                f"version does not have: give an instruction {self.element_id}=TARGET_ELEMENT")


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


def migrate(engine: Engine, plan: Plan, instance_ids: Iterable[str] | None = None,
            actor: str = "operator", dry_run: bool = False) -> Report:
    """Check the plan against every instance, then move each (unless `dry_run`). Raises
    PlanError listing every problem, before anything moves."""
    source, target = _versions(engine, plan)
    _check_instructions(plan, source, target)
    chosen = _instances(engine, plan, source, instance_ids)
    unmapped = [u for instance_id in chosen for u in unmapped_elements(engine, plan, instance_id,
                                                                        source, target)]
    if unmapped:
        raise PlanError([str(u) for u in unmapped])
    report = Report(plan, chosen, dry_run=dry_run)
    if dry_run:
        return report
    for instance_id in chosen:
        advance = _move(engine, plan, instance_id, source, target, actor)
        report.moved.append(Moved(instance_id, advance.state, advance.error))
    return report


# -- checking ---------------------------------------------------------------------------------


def _versions(engine: Engine, plan: Plan) -> tuple[Version, Version]:
    with engine.store.reading() as conn:
        found = dict(conn.execute(
            sa.select(process_versions.c.version, process_versions.c.id)
            .where(process_versions.c.process_id == plan.process_id,
                   process_versions.c.version.in_([plan.source, plan.target]))).all())
    problems = [f"{plan.process_id} has no version {n}; see `mash versions`"
                for n in sorted({plan.source, plan.target}) if n not in found]
    if plan.source == plan.target:
        problems.append("the source and target versions are the same")
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
    with engine.store.reading() as conn:
        running = dict(conn.execute(
            sa.select(instances.c.id, instances.c.version_id)
            .where(instances.c.process_id == plan.process_id,
                   instances.c.state != "completed")).all())
    if instance_ids is None:
        return sorted(i for i, v in running.items() if v == source.id)
    chosen = list(dict.fromkeys(instance_ids))
    problems = [f"instance {i} is not a running instance of {plan.process_id} v{plan.source}"
                for i in chosen if running.get(i) != source.id]
    if problems:
        raise PlanError(problems)
    return chosen


def unmapped_elements(engine: Engine, plan: Plan, instance_id: str, source: Version,
                      target: Version) -> list[Unmapped]:
    """The waiting tasks, timers and failed steps of the instance the target has no element
    for (after the plan's instructions)."""
    with engine.store.reading() as conn:
        dct = rows.state_document(conn, instance_id)
    missing = []
    for workflow, specs in _workflows(dct, target):
        for task in workflow["tasks"].values():
            if task["state"] & ACTIVE and plan.maps(task["task_spec"]) not in specs:
                element = task["task_spec"].partition(".")[0]
                name = next((m.elements[element].name for m in source.models.values()
                             if element in m.elements), None)
                missing.append(Unmapped(instance_id, element, name))
    return missing


def _workflows(dct: dict[str, Any], target: Version) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The stored top workflow and sub-workflows, each with the target specs it runs on."""
    found = [(dct, dict(target.spec.task_specs))]
    for sub in dct["subprocesses"].values():
        spec = target.subprocess_specs.get(sub["spec"])
        found.append((sub, dict(spec.task_specs) if spec is not None else {}))
    return found


# -- moving -----------------------------------------------------------------------------------


def _move(engine: Engine, plan: Plan, instance_id: str, source: Version, target: Version,
          actor: str) -> Advance:
    rearmed: list[str] = []

    def load(conn: Connection, row_version: int) -> Live:
        live = engine._live(conn, instance_id, row_version)
        if live.version.id != source.id:
            raise PlanError([f"instance {instance_id} moved to another version meanwhile"])
        workflow = _rewritten(conn, instance_id, plan, target)
        for deadline in live.deadlines:
            deadline.element_id = plan.maps(deadline.element_id)
            deadline.changed = True
        rearmed.extend(_rearm(workflow, plan))
        return Live(instance_id, target, workflow, live.deadlines, outcome=live.outcome,
                    summary=live.summary)

    def action(runner: Runner, conn: Connection) -> Advance:
        step = Step(runner.now, actor, "migrated", None, None, changes={
            "from_version": plan.source, "to_version": plan.target,
            "instructions": dict(plan.mapping), "rearmed": sorted(plan.rearm)})
        advance = runner.migrated(step)
        if _new_dues(runner, rearmed):  # the tasks they run on are due then too
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


def _rewritten(conn: Connection, instance_id: str, plan: Plan, target: Version) -> Any:
    """The instance's stored state read on the target's specs, every element mapped."""
    dct = rows.state_document(conn, instance_id)
    for workflow, specs in _workflows(dct, target):
        for task in workflow["tasks"].values():
            name = plan.maps(task["task_spec"])
            task["task_spec"] = name if name in specs else PLACEHOLDER
    for sub in dct["subprocesses"].values():
        if sub["spec"] not in target.subprocess_specs:
            raise PlanError([f"the target version does not call {sub['spec']}, which instance "
                             f"{instance_id} is in"])
    workflow = workflow_state.restore(dct, target.spec, target.subprocess_specs)
    for flow in [workflow, *workflow.subprocesses.values()]:
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
    return workflow


def _rearm(workflow: Any, plan: Plan) -> list[str]:
    """Forget the due instant of the waiting timers the owner asked to re-arm: the target's
    expression arms them again when the instance next runs. Returns their task ids."""
    rearmed = []
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING:
            continue
        spec = task.task_spec
        definitions = spec.event_definition.event_definitions \
            if isinstance(getattr(spec, "event_definition", None), MultipleEventDefinition) \
            else [getattr(spec, "event_definition", None)]
        names = {spec.name} | {o.name for o in getattr(spec, "outputs", [])}
        if any(isinstance(d, TimerEventDefinition) for d in definitions) and names & plan.rearm:
            task.internal_data.pop("event_value", None)
            task.internal_data.pop("event_fired", None)
            rearmed.append(str(task.id))
    return rearmed


def _new_dues(runner: Runner, rearmed: list[str]) -> bool:
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
            runner.steps.append(Step(runner.now, runner.actor, "deadline_rearmed",
                                     deadline.element_id, deadline.name,
                                     changes={"due": deadline.due.isoformat()}))
            changed = True
    return changed


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)

