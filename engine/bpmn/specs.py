"""Our task specs and timer events for SpiffWorkflow: subclasses, registered through the parser.

- `HandlerTask`: a service task bound by its topic (Camunda Modeler: Implementation
  "External", Topic) to a Python handler registered in the engine.
- Timer events that read the engine's clock (SpiffWorkflow's own read the wall clock) and
  accept the calendar functions' instants: `working_hours(4)` works in a timeDate and in a
  timeDuration, and `each_working_day("10:00")` in a timeCycle.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent

from ..clock import as_utc

if TYPE_CHECKING:
    from .script_engine import MashScriptEngine


class HandlerTask(ServiceTask):
    """A service task run by the handler registered under `topic`."""

    def __init__(self, wf_spec: Any, bpmn_id: str, topic: str | None = None, **kwargs: Any):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _execute(self, task: Any) -> bool:
        engine: MashScriptEngine = task.workflow.script_engine
        engine.run_handler(task, self.topic)
        return True


# A timer written as Camunda does, a bare ISO 8601 value (PT4H, R/PT1H, 2026-11-23T10:00Z),
# is taken as it is; anything else is an expression (working_hours(4), "P" + days + "D").
_ISO_LITERAL = re.compile(r"^(R\d*/)?(P[\dWYMDTHS.,]+|\d{4}-\d{2}-\d{2}T[\d:.+\-Z]+)"
                          r"(/(P[\dWYMDTHS.,]+|\d{4}-\d{2}-\d{2}T[\d:.+\-Z]+))?$")


def is_iso_literal(expression: str) -> bool:
    return bool(_ISO_LITERAL.match(expression.strip()))


# What a person means as an ISO 8601 value even when it is mistyped (P1X, PT4Hours, R/P1X):
# checked as one, never run as a Python name.
_MEANT_AS_ISO = re.compile(r"^(R\d*/|P\d|PT\d|P$|PT$|\d{4}-\d{2}-\d{2})", re.IGNORECASE)

EXAMPLES = {"timeDate": "2026-11-30T17:00:00Z", "timeDuration": "PT4H or P2D",
            "timeCycle": "R/PT1H or R3/2026-11-23T10:00:00Z/P1D"}


def meant_as_iso(expression: str) -> bool:
    return bool(_MEANT_AS_ISO.match(expression.strip()))


def literal_problem(kind: str, text: str) -> str | None:
    """What is wrong with an ISO 8601 timer value of a timer of `kind` (timeDate,
    timeDuration, timeCycle), read exactly as the timers read it; None when it is right."""
    value = text.strip()
    what = {"timeDate": "an ISO 8601 date and time with a zone",
            "timeDuration": "an ISO 8601 duration or date and time",
            "timeCycle": "an ISO 8601 repeating interval"}.get(kind, "an ISO 8601 value")
    if not is_iso_literal(value):
        return f"{value!r} is not {what}"
    try:
        if kind == "timeCycle":
            ClockCycle._parse(value, datetime(2026, 1, 1, tzinfo=UTC))
        elif kind == "timeDuration" and value.upper().startswith("P"):
            if not re.search(r"\d", value):
                return f"{value!r} is a duration of nothing"
            TimerEventDefinition.parse_iso_duration(value)
        else:
            instant(value)
    except Exception:  # SpiffWorkflow raises a plain Exception("Invalid duration")
        return f"{value!r} is not {what}"
    return None


def timer_value(my_task: Any, expression: str) -> Any:
    if is_iso_literal(expression):
        return expression.strip()
    return _engine(my_task).evaluate(my_task, expression)


def _starts_process(my_task: Any) -> bool:
    """A timer on a start event: the engine's schedule decides when the instance starts (see
    engine/schedules.py), so in the instance it has already fired."""
    return isinstance(my_task.task_spec, StartEvent) and my_task.workflow.parent_workflow is None


def _engine(my_task: Any) -> MashScriptEngine:
    return my_task.workflow.script_engine


def _fires_by(my_task: Any) -> datetime:
    """A timer due at or before this instant fires (see MashScriptEngine.fires_by); a
    process's own start timer fires at once: it is what started the instance."""
    engine = _engine(my_task)
    return engine.now() if _starts_process(my_task) else engine.fires_by()


def instant(value: Any) -> datetime:
    """An expression's result read as an instant; naive times are refused, not guessed."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 instant") from None
        return as_utc(parsed)
    raise ValueError(f"a timer expression gave {type(value).__name__}, not an instant")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class _DeadlineData:
    """When a deadline timer fires, the steps after it learn which deadline and when it was
    due (`breached_deadline`, `breached_due`), e.g. to tell the manager."""

    def update_task_data(self, my_task: Any) -> None:
        name = getattr(my_task.task_spec, "extensions", {}).get("deadline")
        if name:
            state = my_task._get_internal_data("event_value")
            due = state.get("next") if isinstance(state, dict) else state
            my_task.data["breached_deadline"] = name
            my_task.data["breached_due"] = due


class ClockTimeDate(_DeadlineData, TimeDateEventDefinition):
    """timeDate: the expression gives the due instant (e.g. `working_days(1, since=received_at)`)."""

    def has_fired(self, my_task: Any) -> bool:
        due = my_task._get_internal_data("event_value")
        if due is None:
            due = _iso(_engine(my_task).now() if _starts_process(my_task)
                       else instant(timer_value(my_task, self.expression)))
            my_task._set_internal_data(event_value=due)
        # Due means due: a timer fires at its instant, not the moment after.
        if datetime.fromisoformat(due) <= _fires_by(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockDuration(_DeadlineData, DurationTimerEventDefinition):
    """timeDuration: an ISO 8601 duration of elapsed time from when the timer is reached, or
    an instant from a calendar function (`working_hours(4)`)."""

    def has_fired(self, my_task: Any) -> bool:
        engine = _engine(my_task)
        due = my_task._get_internal_data("event_value")
        if due is None and _starts_process(my_task):
            due = _iso(engine.now())
            my_task._set_internal_data(event_value=due)
        if due is None:
            value = timer_value(my_task, self.expression)
            if isinstance(value, str) and value.strip().upper().startswith("P"):
                parsed = TimerEventDefinition.parse_iso_duration(value.strip())
                start = engine.now()
                due = _iso(start + TimerEventDefinition.get_timedelta_from_start(parsed, start))
            else:
                due = _iso(instant(value))
            my_task._set_internal_data(event_value=due)
        if datetime.fromisoformat(due) <= _fires_by(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockCycle(CycleTimerEventDefinition):
    """timeCycle: an ISO 8601 repeating interval (`R3/PT1H`, `R/2026-11-23T10:00:00Z/P1D`),
    or `each_working_day("10:00")` for the Hub's working days at a local time."""

    def cycle_complete(self, my_task: Any) -> bool:
        engine = _engine(my_task)
        state = my_task._get_internal_data("event_value")
        if state is None:
            state = self._first(my_task)
        ready = False
        if state["cycles"] != 0:
            due = datetime.fromisoformat(state["next"])
            if due <= _fires_by(my_task):
                state["next"] = _iso(self._after(engine, state, due))
                state["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=state)
        return ready

    def _first(self, my_task: Any) -> dict[str, Any]:
        engine = _engine(my_task)
        if _starts_process(my_task):  # one instance per occurrence: this one is due now
            return {"cycles": 1, "next": _iso(engine.now()), "duration": 0}
        value = timer_value(my_task, self.expression)
        if isinstance(value, dict) and "working_days_at" in value:
            first = engine.next_working_day_at(engine.now(), value["working_days_at"])
            return {"cycles": -1, "next": _iso(first), "working_days_at": value["working_days_at"]}
        cycles, start, duration = self._parse(value, engine.now())
        return {"cycles": cycles, "next": _iso(start), "duration": duration.total_seconds()}

    @staticmethod
    def _parse(expression: Any, now: datetime) -> tuple[int, datetime, timedelta]:
        if not isinstance(expression, str) or not expression.upper().startswith("R"):
            raise ValueError(f"{expression!r} is not a repeating interval such as R/PT1H")
        components = expression.upper().replace("--", "/").strip("R").split("/")
        cycles = int(components[0]) if components[0] else -1
        if len(components) == 2:  # R/duration: the first one a duration from now
            parsed = TimerEventDefinition.parse_iso_duration(components[1])
            duration = TimerEventDefinition.get_timedelta_from_start(parsed, now)
            return cycles, now + duration, duration
        return TimerEventDefinition.parse_iso_recurring_interval(expression)

    @staticmethod
    def _after(engine: MashScriptEngine, state: dict[str, Any], due: datetime) -> datetime:
        if "working_days_at" in state:
            return engine.next_working_day_at(due, state["working_days_at"])
        return due + timedelta(seconds=state["duration"])

    def details(self, my_task: Any) -> PendingBpmnEvent:
        state = my_task._get_internal_data("event_value")
        value = state["next"] if state is not None and state["cycles"] != 0 else None
        return PendingBpmnEvent(self.name, self.__class__.__name__, value)


TIMER_CLASSES: dict[type[TimerEventDefinition], type[TimerEventDefinition]] = {
    TimeDateEventDefinition: ClockTimeDate,
    DurationTimerEventDefinition: ClockDuration,
    CycleTimerEventDefinition: ClockCycle,
}
