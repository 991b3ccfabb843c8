"""The bridge from a diagram's service tasks to the registered handlers: the script engine a
command runs an instance with, bound to that command's transaction and services."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.task import Task
from sqlalchemy.engine import Connection

from . import registry
from .bpmn.script_engine import MashScriptEngine
from .calendar import WorkingCalendar
from .clock import Clock
from .directory import RoleDirectory
from .outbox import Messages, Outbox
from .registry import CaseRecords, HandlerContext, HandlerError, Services, StepWrites
from .runtime import Version

CaseRecordsFactory = Callable[[Connection, StepWrites, Clock], CaseRecords]


def script_engine(conn: Connection, instance_id: str, version: Version, clock: Clock,
                  calendar: WorkingCalendar, directory: RoleDirectory,
                  functions: dict[str, Callable[..., Any]],
                  case_records: CaseRecordsFactory) -> MashScriptEngine:
    """A handler's writes go in a savepoint of the command's transaction: one that fails
    leaves nothing behind (not even the notification it queued)."""
    writes = StepWrites(conn)
    services = Services(
        clock=clock, calendar=calendar, connection=conn, writes=writes,
        notifier=Outbox(writes, clock), case_records=case_records(conn, writes, clock),
        directory=directory, messages=Messages(writes, clock),
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

    engine = MashScriptEngine(clock, calendar, run_handler, functions)
    engine.messages = services.messages
    return engine
