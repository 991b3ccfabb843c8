"""An instance's SpiffWorkflow state, stored lean: the task tree and data, never the spec.

The spec of a deployed version is parsed once from the diagram stored with the deployment
and shared by every instance of that version, so a row holds only what is particular to the
instance (about 40% of SpiffWorkflow's full serialization).

A command does not write the whole state again: it writes what changed (a *delta*: the
tasks whose stored form changed, those removed, the workflows' own fields), and now and
then the whole state (a *snapshot*; engine/rows.py decides when). The state is the snapshot
with the deltas written after it applied in order. The format is versioned: `STATE_FORMAT`
goes up with any change, and `load` refuses (or migrates) older formats:

- 1: a snapshot, with no deltas (until the deltas came in);
- 2: a snapshot, and deltas after it (the same document; a format 1 state reads as one
  with no deltas).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
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

STATE_FORMAT = 2
READABLE = (1, 2)  # the formats `load` reads (1: the same document, never with deltas)


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


def _convert(value: Any) -> Any:
    """SpiffWorkflow's registry conversion (`_REGISTRY.convert`, callables and modules
    dropped from every dict), with plain JSON values taken on a fast path: the same result."""
    cls = value.__class__
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is dict:
        return {k: _convert(v) for k, v in value.items()
                if not callable(v) and not isinstance(v, ModuleType)}
    if cls is list:
        return [_convert(v) for v in value]
    return _REGISTRY.convert(value)


def _task_dict(task: Any) -> dict[str, Any]:
    """What SpiffWorkflow's TaskConverter writes (its `from_dict` reads it back), without
    the registry's dispatch: a task's data is stored as its changes from its parent's."""
    parent = task.parent
    if parent is None:
        data, delta = _convert(task.data), {}
    else:
        before, after = parent.data, task.data
        data = {}
        delta = {
            "updates": _convert(
                {k: v for k, v in after.items() if k not in before or before[k] != v}),
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
        "internal_data": _convert(task.internal_data),
        "data": data,
        "delta": delta,
        "typename": _TASK,
    }


_TOP = _REGISTRY.typenames[BpmnWorkflow]
_SUB = _REGISTRY.typenames[BpmnSubWorkflow]


def _stable(task: Any) -> bool:
    """A finished task (completed, cancelled) never changes again; a future or predicted
    task with no data yet can only gain data (its size, in the key, changes) or change
    state: their stored form is kept while their key stays the same."""
    state = task._state
    return bool(state & _FINISHED or (state & _PREDICTED and not task.data
                                      and not task.internal_data))


def _key(task: Any) -> tuple[Any, ...]:
    """What changes when a stable task's stored form does. A task with no data is stored as
    the deletion of all of its parent's (its data is kept as a change from its parent's),
    so its key holds the names in its parent's data too."""
    key = (task._state, task.last_state_change, len(task._children), len(task.data),
           len(task.internal_data))
    if not task.data and task._parent is not None:
        parent = task.workflow.tasks.get(task._parent)
        if parent is not None and parent.data:
            return (*key, *parent.data)
    return key


def _fingerprint(task: Any) -> tuple[Any, ...] | None:
    """What else a task's stored form depends on, cheaply compared (orjson, in C): for a
    task that is not stable but may well not have changed (an open task, a waiting timer).
    None when it cannot be had: a parent still running (the stored data is a change from
    the parent's, which may change too), or data orjson cannot write as it is."""
    parent_id = task._parent
    if parent_id is not None:
        parent = task.workflow.tasks.get(parent_id)
        if parent is None or not parent._state & _FINISHED:
            return None
    try:
        return (tuple(task._children), task.triggered, orjson.dumps(task.data),
                orjson.dumps(task.internal_data))
    except TypeError:  # (orjson.JSONEncodeError is one)
        return None


_NONE = object()


class _Written:
    """What was last written of one workflow (the top one or a sub-process)."""

    __slots__ = ("fields", "flow", "sealed", "tasks")

    def __init__(self, flow: Any) -> None:
        self.flow = flow  # the object itself: a sub-process entered again is a new one
        self.fields: dict[str, Any] | None = None
        # task id -> (key, stored form, stable, fingerprint if not stable); the stored form
        # is kept as JSON (bytes: compared in C, written into a snapshot as they are, and
        # not a thousand small dicts per instance for the garbage collector to walk)
        self.tasks: dict[Any, tuple[tuple[Any, ...], bytes, bool,
                                    tuple[Any, ...] | None]] = {}
        self.sealed = False  # a completed sub-process, written once completed: never again


class StateWriter:
    """Writes one instance's state again and again, converting only what changed.

    It remembers what was last written (a snapshot or a delta) of each task and workflow;
    `delta` gives what changed since then, `snapshot` the whole state. A task is left out
    of a delta only when its stored form would be the same: it is stable with the same key
    (see `_stable`), or not stable with the same key and fingerprint (see `_fingerprint`),
    or converted again and found equal. A completed sub-process, once
    written, is sealed: nothing runs in it any more.

    If a command fails, the instance in memory (this writer with it) is dropped, so what it
    remembers is always what the database holds."""

    def __init__(self) -> None:
        self._written: dict[Any, _Written] = {}  # None: the top workflow; else the sub's key
        self._events: Any = None
        # Kept by whoever stores what this writer gives (engine/rows.py): the size of the
        # last snapshot, and the deltas stored on top of it (how many, their total size).
        self.snapshot_bytes = 0
        self.deltas = 0
        self.delta_bytes = 0

    @property
    def baseline(self) -> bool:
        """Something was written by this writer: a delta can follow."""
        return bool(self._written)

    # -- one workflow -------------------------------------------------------------------

    def _fields(self, workflow: Any, key: Any) -> dict[str, Any]:
        fields = {
            "data": _convert(workflow.data),
            "correlations": _convert(workflow.correlations),  # a copy: it changes in place
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "root": str(workflow.task_tree.id),
        }
        if key is not None:
            fields["parent_task_id"] = str(workflow.parent_task_id)
            fields["spec"] = workflow.spec.name
            fields["typename"] = _SUB
        return fields

    def _changes(self, workflow: Any, key: Any, everything: bool) -> dict[str, Any] | None:
        """What changed in one workflow since it was last written (`everything`: all of it,
        for a snapshot), noting it as written."""
        written = self._written.get(key)
        if written is None or written.flow is not workflow:
            written = self._written[key] = _Written(workflow)
        fields = self._fields(workflow, key)
        before = written.fields
        changed_fields = fields if everything or before is None else {
            name: value for name, value in fields.items() if before.get(name, _NONE) != value}
        written.fields = fields
        seen = written.tasks
        tasks = {}
        for task_id, task in workflow.tasks.items():
            key_now = _key(task)
            entry = seen.get(task_id)
            fingerprint = None
            if entry is not None and entry[0] == key_now:
                if not entry[2]:
                    fingerprint = _fingerprint(task)
                if entry[2] or (fingerprint is not None and fingerprint == entry[3]):
                    if everything:
                        tasks[str(task_id)] = orjson.Fragment(entry[1])
                    continue
            converted = orjson.dumps(_task_dict(task), option=orjson.OPT_NON_STR_KEYS)
            if everything or entry is None or entry[1] != converted:
                tasks[str(task_id)] = orjson.Fragment(converted)
            if _stable(task):
                seen[task_id] = (key_now, converted, True, None)
            else:
                seen[task_id] = (key_now, converted, False,
                                 fingerprint if fingerprint is not None else _fingerprint(task))
        # every task now is in `seen`: any more were removed
        removed = [task_id for task_id in seen if task_id not in workflow.tasks] \
            if len(seen) > len(workflow.tasks) else []
        for task_id in removed:
            del seen[task_id]
        if key is not None and workflow.completed:
            written.sealed = True
        if not (everything or changed_fields or tasks or removed):
            return None
        found: dict[str, Any] = dict(changed_fields)
        found["tasks"] = tasks
        if removed and not everything:
            found["removed"] = [str(task_id) for task_id in removed]
        return found

    def _sealed(self, key: Any) -> dict[str, Any]:
        """A sealed sub-process as a snapshot holds it: from what was written."""
        written = self._written[key]
        return {**(written.fields or {}),
                "tasks": {str(i): orjson.Fragment(entry[1])
                          for i, entry in written.tasks.items()}}

    # -- the instance -------------------------------------------------------------------

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        """The whole state (a snapshot's document, its tasks as `orjson.Fragment`s: JSON
        already written), noting all of it as written."""
        dct = self._changes(workflow, None, everything=True)
        assert dct is not None
        subprocesses: dict[str, Any] = {}
        for task_id, sub in workflow.subprocesses.items():
            written = self._written.get(task_id)
            if written is not None and written.sealed and written.flow is sub:
                subprocesses[str(task_id)] = self._sealed(task_id)
            else:
                subprocesses[str(task_id)] = self._changes(sub, task_id, everything=True)
        for gone in [k for k in self._written if k is not None
                     and k not in workflow.subprocesses]:
            del self._written[gone]
        dct["subprocesses"] = subprocesses
        self._events = _REGISTRY.convert(workflow.bpmn_events)
        dct["bpmn_events"] = self._events
        dct["typename"] = _TOP
        return dct

    def snapshot(self, workflow: BpmnWorkflow) -> bytes:
        """The whole state as compact JSON; deltas from now on are against it."""
        dct = self.to_dict(workflow)
        dct["format"] = STATE_FORMAT
        dct["spiff"] = SPIFF_STATE_VERSION
        return orjson.dumps(dct, option=orjson.OPT_NON_STR_KEYS)

    dump = snapshot

    def delta(self, workflow: BpmnWorkflow) -> bytes | None:
        """What changed since the last snapshot or delta (None: nothing), as compact JSON.
        Needs a baseline: a snapshot written (or a delta) by this writer."""
        if not self.baseline:
            raise ValueError("a delta needs a snapshot before it")
        found: dict[str, Any] = {}
        top = self._changes(workflow, None, everything=False)
        if top is not None:
            found["top"] = top
        subprocesses = {}
        for task_id, sub in workflow.subprocesses.items():
            written = self._written.get(task_id)
            if written is not None and written.sealed and written.flow is sub:
                continue
            whole = written is None or written.flow is not sub
            changes = self._changes(sub, task_id, everything=whole)
            if changes is not None:
                if whole:  # new (or entered afresh): it replaces whatever had its key
                    changes["whole"] = True
                subprocesses[str(task_id)] = changes
        if subprocesses:
            found["subprocesses"] = subprocesses
        gone = [k for k in self._written if k is not None and k not in workflow.subprocesses]
        for key in gone:
            del self._written[key]
        if gone:
            found["gone"] = [str(key) for key in gone]
        events = _REGISTRY.convert(workflow.bpmn_events)
        if events != self._events:
            found["bpmn_events"] = self._events = events
        if not found:
            return None
        found["delta"] = STATE_FORMAT
        return orjson.dumps(found, option=orjson.OPT_NON_STR_KEYS)


def dump(workflow: BpmnWorkflow) -> bytes:
    return StateWriter().snapshot(workflow)


def apply(dct: dict[str, Any], delta: dict[str, Any]) -> None:
    """A delta applied to a state document in place. Tasks new to a workflow are added after
    its others, in the order they were in memory, so a parent always comes before its
    children (as restoring them needs)."""
    if delta.get("delta") != STATE_FORMAT:
        raise StateFormatError(f"a stored delta has format {delta.get('delta')}; this engine "
                               f"reads format {STATE_FORMAT}")
    if "top" in delta:
        _apply_workflow(dct, delta["top"])
    subprocesses = dct["subprocesses"]
    for key in delta.get("gone", ()):
        subprocesses.pop(key, None)
    for key, changes in delta.get("subprocesses", {}).items():
        if changes.get("whole") or key not in subprocesses:
            subprocesses[key] = {"tasks": {}}
        _apply_workflow(subprocesses[key], changes)
    if "bpmn_events" in delta:
        dct["bpmn_events"] = delta["bpmn_events"]


def _apply_workflow(workflow: dict[str, Any], changes: dict[str, Any]) -> None:
    tasks = workflow["tasks"]
    for name, value in changes.items():
        if name not in ("tasks", "removed", "whole"):
            workflow[name] = value
    tasks.update(changes["tasks"])
    for task_id in changes.get("removed", ()):
        tasks.pop(task_id, None)


def document(stored: bytes, deltas: Iterable[bytes] = ()) -> dict[str, Any]:
    """The state as one document: the snapshot with its deltas applied, checked to be in a
    format this engine reads (format 1 is format 2's document with no deltas)."""
    dct = orjson.loads(stored)
    found = dct.pop("format", None)
    spiff = dct.pop("spiff", None)
    if found not in READABLE or spiff != SPIFF_STATE_VERSION:
        raise StateFormatError(
            f"stored state has format {found} (SpiffWorkflow {spiff}); this engine reads "
            f"format {STATE_FORMAT} (SpiffWorkflow {SPIFF_STATE_VERSION}): add a migration"
        )
    for delta in deltas:
        apply(dct, orjson.loads(delta))
    return dct


def load(stored: bytes, spec: Any, subprocess_specs: dict[str, Any],
         deltas: Iterable[bytes] = ()) -> BpmnWorkflow:
    """The workflow from its stored snapshot and the deltas written after it, in order."""
    return restore(document(stored, deltas), spec, subprocess_specs)


def restore(dct: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """The workflow from a state document (`document`)."""
    return _REGISTRY.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
