"""The reports as the web pages, the API, `mash report` and the metrics ask for them: one
reading transaction each, on the engine's database, calendar and deployed diagrams."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..deployments import UnknownProcess
from ..service import Engine
from ..store import process_versions
from . import heatmap, register, steps, timeliness
from .period import Filters, Period, filters_from, period_from
from .timescales import Timescales

_readers: weakref.WeakKeyDictionary[Engine, Reports] = weakref.WeakKeyDictionary()


def reports_for(engine: Engine) -> Reports:
    """One per engine, so what it learns of the diagrams (each timer's clock) is kept."""
    found = _readers.get(engine)
    if found is None:
        found = _readers[engine] = Reports(engine)
    return found


class Reports:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.timescales = Timescales(engine.deployments, engine.calendar)
        # The heat map's figures of closed days, per question (engine/reports/steps.py).
        self._memos: dict[steps.Question, steps.DayMemo] = {}
        self._lock = threading.Lock()

    @property
    def zone(self) -> Any:
        return self.engine.calendar.zone

    def now(self) -> datetime:
        return self.engine.clock.now()

    def period(self, first: str | None = None, last: str | None = None) -> Period:
        return period_from(first, last, self.now(), self.zone)

    @staticmethod
    def filters(rag: str | None = None, channel: str | None = None, outcome: str | None = None,
                team: str | None = None) -> Filters:
        return filters_from(rag, channel, outcome, team)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A reading transaction for a report. On PostgreSQL without JIT compilation (a
        report's grouping is estimated dear enough to be compiled, which costs more than it
        saves: 0.6 s of a year's dashboard) and with room to sort in memory; both for this
        transaction only."""
        with self.engine.store.reading() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL jit = off")
                conn.exec_driver_sql("SET LOCAL work_mem = '32MB'")
            yield conn

    def timeliness(self, period: Period, filters: Filters) -> dict[str, Any]:
        with self.reading() as conn:
            return timeliness.dashboard(conn, self.timescales, period, filters, self.now())

    def register(self, period: Period, filters: Filters, names: bool) -> register.Register:
        with self.reading() as conn:
            return register.register(conn, period, filters, names)

    def processes(self) -> list[dict[str, str]]:
        """The diagrams with a page of their own: one per file, named by the process the
        file is named after (first_response.bpmn: first_response)."""
        with self.engine.store.reading() as conn:
            ids = [r for (r,) in conn.execute(sa.select(process_versions.c.process_id)
                                              .distinct().order_by(process_versions.c.process_id))]
        files: dict[str, dict[str, str]] = {}
        for process_id in ids:
            try:
                version = self.engine.deployments.latest(process_id)
            except (UnknownProcess, Exception):
                continue
            model = version.models[process_id]
            own = PurePath(model.file).stem == process_id
            if model.file not in files or own:
                files[model.file] = {"process": process_id, "name": model.name or process_id,
                                     "file": model.file}
        return sorted(files.values(), key=lambda p: p["name"])

    def heatmap(self, process_id: str, period: Period | None) -> dict[str, Any]:
        """The heat map of the diagram file that holds `process_id` (its newest version),
        over instances of any version. Raises UnknownProcess."""
        version = self.engine.deployments.latest(process_id)
        file = version.models[process_id].file
        models = [m for m in version.models.values() if m.file == file]
        elements = heatmap.elements_of(models)
        with self.reading() as conn:
            roots = heatmap.roots_using(conn, self.engine.deployments, {m.id for m in models})
            asked = heatmap.question(elements, heatmap.flows_of(models), roots)
            with self._lock:
                memo = steps.for_question(self._memos, asked, self.zone,
                                          conn.dialect.name == "sqlite")
            found = heatmap.as_samples(steps.period_figures(
                conn, self.engine.calendar, memo, self.now(),
                period.start if period else None, period.end if period else None))
        return {"process": process_id, "name": version.models[process_id].name,
                "version": version.number, "version_id": version.id, "file": file,
                "period": period.as_dict() if period else None,
                "elements": heatmap.figures(elements, found)}

    def diagram_xml(self, version_id: int, file: str) -> str:
        return self.engine.deployments.diagram_xml(version_id, file)
