"""An instance's SpiffWorkflow state, stored lean: the task tree and data, never the spec.

The spec of a deployed version is parsed once from the diagram stored with the deployment
and shared by every instance of that version, so a row holds only what is particular to the
instance (about 40% of SpiffWorkflow's full serialization). The format is versioned:
`STATE_FORMAT` goes up with any change, and `load` refuses (or migrates) older formats.
"""

from __future__ import annotations

from typing import Any

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_STATE_VERSION
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .workflow import MashSubWorkflow, MashWorkflow

STATE_FORMAT = 1


class StateFormatError(ValueError):
    """Stored state this version of the engine cannot read."""


class LeanWorkflowConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's converter without the specs: they come from the deployment."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None
    ) -> BpmnWorkflow:
        if spec is None:
            raise StateFormatError("restoring an instance needs its deployed spec")
        workflow = MashWorkflow(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


def _registry() -> Any:
    # Our timer classes too: an event-based gateway keeps the event it saw (a timer's
    # definition among them) in its task's internal data.
    from SpiffWorkflow.bpmn.serializer.default.event_definition import (
        TimerConditionalEventDefinitionConverter,
    )

    from .specs import TIMER_CLASSES

    config = {**CAMUNDA_CONFIG,
              **{ours: TimerConditionalEventDefinitionConverter for ours in TIMER_CLASSES.values()}}
    registry = BpmnWorkflowSerializer.configure(config)
    LeanWorkflowConverter(BpmnWorkflow, registry)
    # Sub-processes come back as our subclass, under SpiffWorkflow's own type name.
    BpmnSubWorkflowConverter(MashSubWorkflow, registry,
                             typename=registry.typenames[BpmnSubWorkflow])
    return registry


_REGISTRY = _registry()


_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED
_PREDICTED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE
_TASK = _REGISTRY.typenames[Task]


def _task_dict(task: Any) -> dict[str, Any]:
    """What SpiffWorkflow's TaskConverter writes (its `from_dict` reads it back), without
    the registry's dispatch: a task's data is stored as its changes from its parent's."""
    parent = task.parent
    if parent is None:
        data, delta = _REGISTRY.convert(_REGISTRY.clean(task.data)), {}
    else:
        before, after = parent.data, task.data
        data = {}
        delta = {
            "updates": _REGISTRY.convert(_REGISTRY.clean(
                {k: v for k, v in after.items() if k not in before or before[k] != v})),
            "deletions": [k for k in before if k not in after],
        }
    return {
        "id": str(task.id),
        "parent": str(task._parent) if task._parent is not None else None,
        "children": [str(child) for child in task._children],
        "last_state_change": task.last_state_change,
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": _REGISTRY.convert(task.internal_data),
        "data": data,
        "delta": delta,
        "typename": _TASK,
    }
_TOP = _REGISTRY.typenames[BpmnWorkflow]
_SUB = _REGISTRY.typenames[BpmnSubWorkflow]


class StateWriter:
    """Dumps one instance again and again, converting only what changed. A finished task
    (completed, cancelled) never changes again; a future or predicted task with no data yet
    can only gain data (its size, in the key, changes) or change state. Their converted form
    is kept while that key (state, last change, children, data sizes) stays the same."""

    def __init__(self) -> None:
        self._stable: dict[Any, tuple[tuple[int, float, int, int, int], dict[str, Any]]] = {}

    def _task(self, task: Any) -> dict[str, Any]:
        key = (task.state, task.last_state_change, len(task._children), len(task.data),
               len(task.internal_data))
        hit = self._stable.get(task.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        converted = _task_dict(task)
        if task.state & _FINISHED or (task.state & _PREDICTED
                                      and not task.data and not task.internal_data):
            self._stable[task.id] = (key, converted)
        return converted

    def _workflow(self, workflow: Any) -> dict[str, Any]:
        return {
            "data": _REGISTRY.convert(_REGISTRY.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": {str(task_id): self._task(task) for task_id, task in workflow.tasks.items()},
            "root": str(workflow.task_tree.id),
        }

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = self._workflow(workflow)
        subprocesses = {}
        for task_id, sub in workflow.subprocesses.items():
            sub_dct = self._workflow(sub)
            sub_dct["parent_task_id"] = str(sub.parent_task_id)
            sub_dct["spec"] = sub.spec.name
            sub_dct["typename"] = _SUB
            subprocesses[str(task_id)] = sub_dct
        dct["subprocesses"] = subprocesses
        dct["bpmn_events"] = _REGISTRY.convert(workflow.bpmn_events)
        dct["typename"] = _TOP
        return dct

    def dump(self, workflow: BpmnWorkflow) -> bytes:
        """The instance's state as compact JSON."""
        dct = self.to_dict(workflow)
        dct["format"] = STATE_FORMAT
        dct["spiff"] = SPIFF_STATE_VERSION
        return orjson.dumps(dct, option=orjson.OPT_NON_STR_KEYS)


def dump(workflow: BpmnWorkflow) -> bytes:
    return StateWriter().dump(workflow)


def load(stored: bytes, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    dct = orjson.loads(stored)
    found = dct.pop("format", None)
    spiff = dct.pop("spiff", None)
    if found != STATE_FORMAT or spiff != SPIFF_STATE_VERSION:
        raise StateFormatError(
            f"stored state has format {found} (SpiffWorkflow {spiff}); this engine reads "
            f"format {STATE_FORMAT} (SpiffWorkflow {SPIFF_STATE_VERSION}): add a migration"
        )
    return _REGISTRY.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
