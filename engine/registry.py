"""Handlers: plain Python functions behind the diagram's service tasks, registered by topic.

    @handler("check_postcode")
    def check_postcode(task: HandlerContext) -> None:
        task.data["bcp"] = ...

A service task names its handler in the modeller (Implementation: External, Topic). A handler
declares the names it leaves in the data, so `mash validate` can tell a condition on a name
nothing sets (a typo, a deleted field) from one on a handler's output:

    @handler("check_postcode", sets=("postcode_check", "postcode_reason"))

`sets`: names it always leaves in the data (with a value, or None when it has none);
`empty`: names it leaves present but empty (None) unless they already hold a value, for
decisions later steps make (so a condition can test them without failing). The handler gets
a copy of the task's data and the engine's services; its changes to the data
are kept only if it returns normally, and its database work (case records, the outbox) runs
in a savepoint of the step's transaction, so a handler that raises leaves nothing behind.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .calendar import WorkingCalendar
    from .clock import Clock


class Notifier(Protocol):
    def send(
        self, kind: str, to: str, subject: str, body: str, instance_id: str | None
    ) -> str: ...


class CaseRecords(Protocol):
    def child(self, child_id: str) -> dict[str, Any] | None: ...

    def born_on(self, days: list[date]) -> list[dict[str, Any]]: ...

    def family(self, family: str) -> list[dict[str, Any]]: ...

    def add_note(self, child_id: str | None, instance_id: str, kind: str, text: str) -> None: ...


class Directory(Protocol):
    def addresses(self, role: str) -> list[str]: ...

    def authority(self, name: str) -> str: ...

    def team(self, name: str) -> dict[str, str]: ...


class InstanceMessages(Protocol):
    def send(self, instance_id: str, name: str, payload: dict[str, Any]) -> None: ...


class StepWrites:
    """A handler's database writes: in a savepoint opened at its first write, so a handler
    that raises leaves no rows behind (and one that only reads costs nothing)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._savepoint: Any = None

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        if self._savepoint is None:
            self._savepoint = self.connection.begin_nested()
        return self.connection.execute(statement, parameters)

    def finish(self, ok: bool) -> None:
        if self._savepoint is not None:
            if ok:
                self._savepoint.commit()
            else:
                self._savepoint.rollback()
            self._savepoint = None


@dataclass
class Services:
    """What the engine lends a handler for one step. `connection` is for reading; writes go
    through `writes` (the outbox and case records do this for you)."""

    clock: Clock
    calendar: WorkingCalendar
    connection: Connection
    writes: StepWrites
    notifier: Notifier
    case_records: CaseRecords
    directory: Directory
    messages: InstanceMessages


@dataclass
class HandlerContext:
    instance_id: str
    process_id: str
    element_id: str
    element_name: str
    properties: dict[str, str]  # the service task's extension properties, from the diagram
    data: dict[str, Any]
    services: Services
    logs: list[str] = field(default_factory=list)

    @property
    def now(self) -> Any:
        return self.services.clock.now()

    def prop(self, name: str, default: str | None = None) -> str:
        value = self.properties.get(name, default)
        if value is None:
            raise HandlerError(
                f"service task {self.element_id!r} needs the extension property {name!r}"
            )
        return value


class HandlerError(Exception):
    """A handler's own refusal: shown on the incident as it is."""


Handler = Callable[[HandlerContext], dict[str, Any] | None]


@dataclass(frozen=True)
class Outputs:
    """The names a handler leaves in the task data (see the module's docstring)."""

    sets: frozenset[str] = frozenset()
    empty: frozenset[str] = frozenset()


_HANDLERS: dict[str, Handler] = {}
_OUTPUTS: dict[str, Outputs] = {}


def handler(topic: str, sets: tuple[str, ...] = (), empty: tuple[str, ...] = ()
            ) -> Callable[[Handler], Handler]:
    """Register `function` as the handler of service tasks with this topic, leaving the
    names `sets` (and `empty`) in the data."""
    for name in (*sets, *empty):
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"handler {topic!r}: {name!r} is not a name diagrams can read")

    def register(function: Handler) -> Handler:
        if topic in _HANDLERS and _HANDLERS[topic] is not function:
            raise ValueError(f"two handlers for topic {topic!r}")
        _HANDLERS[topic] = function
        _OUTPUTS[topic] = Outputs(frozenset(sets), frozenset(empty) - frozenset(sets))
        return function

    return register


def outputs(topic: str) -> Outputs:
    """What the handler of `topic` declares it leaves in the data (nothing, if undeclared)."""
    load_handlers()
    return _OUTPUTS.get(topic, Outputs())


def lookup(topic: str) -> Handler | None:
    load_handlers()
    return _HANDLERS.get(topic)


def topics() -> list[str]:
    load_handlers()
    return sorted(_HANDLERS)


_LOADED = False


def load_handlers(package: str = "handlers") -> None:
    """Import every module of the handlers package once, so their decorators register."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        importlib.import_module(f"{package}.{info.name}")
