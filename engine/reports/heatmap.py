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

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..calendar import WorkingCalendar
from ..store import history, human_tasks, instances, process_versions
from . import stats

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


def samples(conn: Connection, calendar: WorkingCalendar, elements: dict[str, Element],
            flows: dict[str, str], roots: list[str] | None, start: datetime | None,
            end: datetime | None) -> dict[str, Samples]:
    """Each element's count of instances and the seconds spent there (working seconds for a
    person's task), for completions in [start, end) (any time when None). `roots`: only
    instances of these processes (None: the element ids are this diagram's alone)."""
    found: dict[str, Samples] = defaultdict(Samples)
    ids = sorted(elements)
    if not ids:
        return {}

    def within(column: Any) -> list[Any]:
        bounds = []
        if start is not None:
            bounds.append(column >= start)
        if end is not None:
            bounds.append(column < end)
        return bounds

    def of_roots(query: Any, instance_id: Any) -> Any:
        if roots is None:
            return query
        return query.join(instances, instances.c.id == instance_id)\
            .where(instances.c.process_id.in_(roots))

    # (each query reads its rows through the element-and-time indexes of engine.store)
    passed = of_roots(sa.select(history.c.element_id,
                                sa.func.count(sa.distinct(history.c.instance_id))),
                      history.c.instance_id)\
        .where(history.c.element_id.in_(ids), *within(history.c.at))\
        .group_by(history.c.element_id)  # (any step on the element: it was passed)
    for element_id, count in conn.execute(passed):
        found[element_id].passed = int(count)

    people = sorted(e.id for e in elements.values() if e.kind == "person")
    if people:
        # Finished tasks by element and time; a cancelled one (its deadline moved the case
        # on) has a completion time too, and is left out here rather than in the index.
        tasks = of_roots(sa.select(human_tasks.c.element_id, human_tasks.c.created_at,
                                   human_tasks.c.completed_at, human_tasks.c.status),
                         human_tasks.c.instance_id)\
            .where(human_tasks.c.element_id.in_(people), *within(human_tasks.c.completed_at))
        spent = calendar.working_time_between
        for element_id, opened, done, status in conn.execute(tasks):
            if status == "completed":
                found[element_id].seconds.append(spent(opened, done).total_seconds())

    waiting = sorted(e.id for e in elements.values() if e.kind == "waiting")
    sources = {f: s for f, s in flows.items() if s in elements}
    if waiting and sources:
        before = history.alias("before")
        source_of = sa.case(sources, value=history.c.flow_id)
        # The last completion of the flow's source in the same instance, up to this step:
        # one seek in the (instance, element, time) index.
        since = sa.select(sa.func.max(before.c.at))\
            .where(before.c.instance_id == history.c.instance_id,
                   before.c.element_id == source_of, before.c.at <= history.c.at)\
            .scalar_subquery()
        steps = of_roots(sa.select(history.c.element_id, history.c.at, since.label("since")),
                         history.c.instance_id)\
            .where(history.c.element_id.in_(waiting), history.c.action == "completed",
                   history.c.flow_id.is_not(None), *within(history.c.at))
        for element_id, at, began in conn.execute(steps):
            if began is not None:
                # (a scalar subquery's instant comes back as the driver gives it)
                began = _aware(began)
                found[element_id].seconds.append(max(0.0, (at - began).total_seconds()))
    return dict(found)


def _aware(value: Any) -> datetime:
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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
