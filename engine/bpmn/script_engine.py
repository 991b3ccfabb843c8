"""The script engine a workflow runs with: safe expressions, the engine's clock and calendar,
and the bridge from service tasks to registered handlers.

One is made for each command on an instance, bound to that command's services, so nothing
is shared between threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from ..clock import Clock, as_utc, iso_z
from ..expressions import ExpressionEnvironment, compile_checked

if TYPE_CHECKING:
    from ..calendar import WorkingCalendar

HandlerRunner = Callable[[Any, str | None], None]


def parse_local_time(text: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise ValueError(f"{text!r} is not a time of day; write HH:MM, e.g. \"10:00\"") from None


def _since(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            raise ValueError(f"since={value!r} is not an ISO 8601 instant") from None
    raise ValueError(f"since= must be an instant, not {type(value).__name__}")


# The longest timescale each function counts (about ten years): the calendar walks day by
# day, so a mistyped `working_days(1000000)` must be refused, not counted.
LONGEST = {"working_hours": 20_000, "working_days": 2_500, "hours": 87_660}


def _bounded(function: str, n: Any) -> Any:
    if isinstance(n, int | float) and not isinstance(n, bool) and n > LONGEST[function]:
        raise ValueError(f"{function}({n}) is longer than any timescale; the limit is "
                         f"{LONGEST[function]:,}")
    return n


def diagram_functions(clock: Clock, calendar: WorkingCalendar) -> dict[str, Callable[..., Any]]:
    """What a diagram's expressions may call, besides plain data builtins."""

    def start(since: Any) -> datetime:
        return _since(since) or clock.now()

    def working_hours(n: float, since: Any = None) -> str:
        return iso_z(calendar.working_hours(_bounded("working_hours", n), start(since)))

    def working_days(n: int, since: Any = None) -> str:
        return iso_z(calendar.working_days(_bounded("working_days", n), start(since)))

    def hours(n: float, since: Any = None) -> str:
        return iso_z(calendar.hours(_bounded("hours", n), start(since)))

    def now() -> str:
        return iso_z(clock.now())

    def is_hub_open(at: Any = None) -> bool:
        return calendar.is_hub_open(start(at))

    def is_out_of_hours(at: Any = None) -> bool:
        return calendar.is_out_of_hours(start(at))

    def each_working_day(at: str) -> dict[str, str]:
        parse_local_time(at)  # refuse a bad time when the timer is set, not when it fires
        return {"working_days_at": at}

    return {
        "working_hours": working_hours, "working_days": working_days, "hours": hours,
        "now": now, "is_hub_open": is_hub_open, "is_out_of_hours": is_out_of_hours,
        "each_working_day": each_working_day,
    }


DIAGRAM_FUNCTIONS = ("working_hours", "working_days", "hours", "now", "is_hub_open",
                     "is_out_of_hours", "each_working_day")


class _NoMessages:
    queued = 0


class MashScriptEngine(PythonScriptEngine):
    def __init__(
        self, clock: Clock, calendar: WorkingCalendar, run_handler: HandlerRunner | None = None,
        functions: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        functions = functions if functions is not None else diagram_functions(clock, calendar)
        super().__init__(environment=ExpressionEnvironment(functions))
        self.clock = clock
        self._instant_before: datetime | None = None
        self.calendar = calendar
        self._run_handler = run_handler
        self.messages: Any = _NoMessages()

    def now(self) -> datetime:
        """The instant of the command: timers are armed from it."""
        return self.clock.now()

    def fires_by(self) -> datetime:
        """A timer fires when its due instant is at or before this one: now, or just before
        now while the work of this instant is still being done (`just_before_now`)."""
        if self._instant_before is not None:
            return self._instant_before
        return self.clock.now()

    @contextmanager
    def just_before_now(self) -> Iterator[None]:
        """Timers fire only if due before now: what falls due exactly now waits until the
        work of this instant is done, so work done at a deadline's due instant meets it
        (docs/process.md: met "at or before"). Timers armed meanwhile still count from now."""
        self._instant_before = self.clock.now() - timedelta(microseconds=1)
        try:
            yield
        finally:
            self._instant_before = None

    def next_working_day_at(self, after: datetime, local: str) -> datetime:
        return self.calendar.next_working_day_at(after, parse_local_time(local))

    def validate(self, expression: str) -> None:
        compile_checked(expression, "eval")

    def run_handler(self, task: Any, topic: str | None) -> None:
        if self._run_handler is None:
            raise RuntimeError("this workflow was loaded without handlers; it cannot run them")
        self._run_handler(task, topic)
