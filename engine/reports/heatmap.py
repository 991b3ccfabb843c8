"""Where contacts wait: for each element of a diagram, how many instances passed it in a
period, and the median and 90th percentile of the time they spent there.

- A person's task (user task): from the task opening to its completion, in Hub working
  hours (the task table's `created_at` and `completed_at`).
- Something that waits (a catch event, a receive task, a call activity or sub-process):
  from the completion of the element before it (the source of the sequence flow taken) to
  its own completion, in elapsed hours.
- Anything else (gateways, service and script tasks, start and end events) runs in the same
  instant as the step before it: counted, not timed.

"Passed" counts the instances that completed the element in the period; the times are of
the completions in the period. The numbers come from the history and task tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..calendar import WorkingCalendar
from ..store import process_versions
from ..working_time import micros
from . import stats, steps

PERSON = frozenset({"userTask", "manualTask"})
WAITING = frozenset({"intermediateCatchEvent", "receiveTask", "callActivity", "subProcess"})


@dataclass
class Element:
    """What the heat map needs of a diagram element."""

    id: str
    name: str | None
    tag: str

    @property
    def kind(self) -> str:
        return "person" if self.tag in PERSON else "waiting" if self.tag in WAITING \
            else "automatic"


@dataclass
class Samples:
    """One element's raw figures (shards of a simulation add theirs together)."""

    passed: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, other: Samples) -> None:
        self.passed += other.passed
        self.seconds.extend(other.seconds)


def elements_of(models: Iterable[Any], file: str | None = None) -> dict[str, Element]:
    """The elements of the process models (of one diagram file, when given)."""
    found: dict[str, Element] = {}
    for model in models:
        if file is not None and model.file != file:
            continue
        for element in model.elements.values():
            found.setdefault(element.id, Element(element.id, element.name, element.tag))
    return found


def flows_of(models: Iterable[Any]) -> dict[str, str]:
    """Sequence flow id -> the element it leaves."""
    return {flow_id: source for model in models for flow_id, (source, _) in model.flows.items()}


def roots_using(conn: Connection, versions: Any, process_ids: set[str]) -> list[str] | None:
    """The processes whose instances may run these processes' elements (themselves and those
    whose newest version calls them), or None when no other diagram uses any of the same
    element ids, so a step's element id alone says which diagram it belongs to."""
    found = set(process_ids)
    own: set[str] = set()
    others: set[str] = set()
    for (root,) in conn.execute(sa.select(process_versions.c.process_id).distinct()):
        try:
            models = versions.latest(root).models
        except Exception:  # a process that no longer loads runs nothing new
            continue
        if process_ids & set(models):
            found.add(root)
        for model_id, model in models.items():
            (own if model_id in process_ids else others).update(model.elements)
    return sorted(found) if own & others else None


def question(elements: dict[str, Element], flows: dict[str, str], roots: list[str] | None
             ) -> steps.Question:
    """What the heat map of these elements asks of the rows."""
    return steps.Question(
        ids=tuple(sorted(elements)),
        people=tuple(sorted(e.id for e in elements.values() if e.kind == "person")),
        waiting=frozenset(e.id for e in elements.values() if e.kind == "waiting"),
        sources=tuple(sorted((f, s) for f, s in flows.items() if s in elements)),
        roots=tuple(roots) if roots is not None else None)


def samples(conn: Connection, calendar: WorkingCalendar, elements: dict[str, Element],
            flows: dict[str, str], roots: list[str] | None, start: datetime | None,
            end: datetime | None) -> dict[str, Samples]:
    """Each element's count of instances and the seconds spent there (working seconds for a
    person's task), for completions in [start, end) (any time when None). `roots`: only
    instances of these processes (None: the element ids are this diagram's alone)."""
    days = steps.Calendar(calendar.zone, conn.dialect.name == "sqlite")
    low = micros(start) if start is not None else None
    first = days.raw(low) if low is not None else None
    found = steps.collect(conn, calendar, question(elements, flows, roots), low,
                          micros(end) if end is not None else None,
                          lambda at: 0 if first is None or at >= first else -1, days)
    return as_samples({e: (part.first, part.seconds) for e, part in found.get(0, {}).items()})


def as_samples(found: dict[str, tuple[int, list[float]]]) -> dict[str, Samples]:
    return {e: Samples(passed, seconds) for e, (passed, seconds) in found.items()}


def figures(elements: dict[str, Element], found: dict[str, Samples]) -> list[dict[str, Any]]:
    """The heat map as shown: every element with its count, and for timed ones the median
    and 90th percentile in hours, busiest first."""
    rows: list[dict[str, Any]] = []
    for element in elements.values():
        sample = found.get(element.id, Samples())
        hours = [s / 3600 for s in sample.seconds]
        timed = element.kind != "automatic"
        rows.append({
            "element_id": element.id, "name": element.name or element.id, "kind": element.kind,
            "passed": sample.passed, "timed": len(hours) if timed else 0,
            "basis": "working" if element.kind == "person" else "elapsed" if timed else None,
            "median_hours": _round(stats.median(hours)) if timed else None,
            "p90_hours": _round(stats.p90(hours)) if timed else None,
        })
    # The steps that hold contacts longest first; automatic steps (counted only) last.
    rows.sort(key=lambda r: (r["kind"] == "automatic", -float(r["p90_hours"] or 0),
                             -int(r["passed"]), str(r["name"])))
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
