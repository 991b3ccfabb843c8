"""The simulation's report (docs/scenarios.md, format 1), read back from the engine's database."""

from __future__ import annotations

import statistics
import sys
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..calendar import WorkingCalendar
from ..clock import iso_z
from ..deployments import UnknownProcess
from ..reports import heatmap
from ..reports.timescales import Timescales
from ..store import deadlines, history, human_tasks, instances, notifications
from .runner import CONTACT_PROCESS, DISAGREEMENT_PROCESS, Run

FORMAT = 1


def _z(value: datetime | None) -> str | None:
    return iso_z(value) if value is not None else None


Heat = dict[str, tuple[dict[str, heatmap.Element], dict[str, heatmap.Samples]]]


def build(run: Run) -> dict[str, Any]:
    """The report of one run."""
    contacts, disagreements, minutes, heat = collect(run)
    return assemble(contacts, disagreements, minutes, heat)


def assemble(contacts: list[dict[str, Any]], disagreements: list[dict[str, Any]],
             minutes: dict[str, list[float]], heat: Heat | None = None) -> dict[str, Any]:
    """The report from its parts (one run's, or several shards' put together). `heat`: per
    diagram file, its elements and what each shard saw there (the heat map)."""
    report = {"format": FORMAT, "contacts": contacts, "disagreements": disagreements,
              "summary": summarise(contacts, disagreements, time_in_step(minutes))}
    if heat is not None:
        report["heatmap"] = {file: heatmap.figures(elements, found)
                             for file, (elements, found) in sorted(heat.items())}
    return report


def merge_heat(parts: list[Heat]) -> Heat:
    merged: Heat = {}
    for part in parts:
        for file, (elements, found) in part.items():
            _, into = merged.setdefault(file, (elements, {}))
            for element_id, sample in found.items():
                into.setdefault(element_id, heatmap.Samples()).add(sample)
    return merged


def _heat(run: Run) -> Heat:
    """Per diagram file of the run's contacts and disagreements: how many passed each
    element and the time spent there (engine.reports.heatmap), over the whole run."""
    found: Heat = {}
    engine = run.engine
    with run.store.reading() as conn:
        for process_id in (CONTACT_PROCESS, DISAGREEMENT_PROCESS):
            try:
                version = engine.deployments.latest(process_id)
            except UnknownProcess:
                continue
            file = version.models[process_id].file
            models = [m for m in version.models.values() if m.file == file]
            elements = heatmap.elements_of(models)
            roots = heatmap.roots_using(conn, engine.deployments, {m.id for m in models})
            found[file] = (elements, heatmap.samples(conn, engine.calendar, elements,
                                                     heatmap.flows_of(models), roots, None, None))
    return found


def _late(timescales: Timescales, version_id: int, rag: str | None, d: Any) -> dict[str, Any]:
    """Beside a deadline: its clock and, when missed and then done, how late on that clock
    (hours); None when met or never done."""
    basis = timescales.basis(version_id, d.element_id, rag)
    late = None
    if d.met is False and d.done_at is not None:
        late = round(timescales.late_by(basis, d.due, d.done_at).total_seconds() / 3600, 4)
    return {"name": sys.intern(d.name), "clock": basis, "late_hours": late}


def collect(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                               dict[str, list[float]], Heat]:
    """Each contact and disagreement as the report shows it, the working minutes each
    role's tasks took, and the heat map's figures, read back from the run's database."""
    store = run.store
    children = run.children or {c: [i] for c, i in run.contacts.items()}
    disagreeing = set(run.disagreements.values())  # (their deadlines' clocks know no RAG)
    wanted = {i for ids in children.values() for i in ids} | disagreeing
    timescales = Timescales(run.engine.deployments, run.engine.calendar)
    # A year's report is held whole, in each shard and again in the parent: the same names
    # (element ids, deadlines, kinds, recipients) are kept once (sys.intern, which pickling
    # between processes keeps), and a contact's first child shares its contact's lists.
    name = sys.intern
    rows: dict[str, Any] = {}
    due: dict[str, list[dict[str, Any]]] = defaultdict(list)
    late: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    path: dict[str, list[str]] = defaultdict(list)
    with store.reading() as conn:
        for row in conn.execute(sa.select(instances.c.id, instances.c.outcome, instances.c.rag,
                                          instances.c.flags, instances.c.ended_at,
                                          instances.c.version_id)):
            if row.id in wanted:
                rows[row.id] = row
        for d in conn.execute(sa.select(deadlines).order_by(deadlines.c.started_at,
                                                            deadlines.c.name)):
            if d.instance_id in wanted:
                due[d.instance_id].append({"name": name(d.name), "started_at": _z(d.started_at),
                                           "due": _z(d.due), "done_at": _z(d.done_at),
                                           "met": d.met})
                of = rows[d.instance_id]
                rag = None if d.instance_id in disagreeing else of.rag
                late[d.instance_id].append(_late(timescales, of.version_id, rag, d))
        for n in conn.execute(sa.select(notifications.c.instance_id, notifications.c.kind,
                                        notifications.c.recipient, notifications.c.created_at)
                              # (ties by what they are, not by their random ids: the
                              # same scenario gives the same report, issue 20)
                              .order_by(notifications.c.created_at, notifications.c.kind,
                                        notifications.c.recipient)):
            if n.instance_id in wanted:
                sent[n.instance_id].append({"kind": name(n.kind), "to": name(n.recipient),
                                            "sent_at": _z(n.created_at)})
        for h in conn.execute(sa.select(history.c.instance_id, history.c.element_id)
                              .where(history.c.action == "completed")
                              .order_by(history.c.id)):
            if h.instance_id in wanted:
                path[h.instance_id].append(name(h.element_id))
        minutes = _minutes(conn, run.engine.calendar)
    scenario_contacts = {c.id: c for c in run.scenario.contacts}

    def child(instance_id: str) -> dict[str, Any]:
        row = rows[instance_id]
        return {
            "outcome": row.outcome, "rag": row.rag, "ended_at": _z(row.ended_at),
            "deadlines": due[instance_id], "notifications": sent[instance_id],
            "flags": list(row.flags or []), "path": path[instance_id],
            "lateness": late[instance_id],
        }

    contacts = []
    for contact_id, instance_id in run.contacts.items():
        first = child(instance_id)  # today's fields: the contact's first (or only) child
        contacts.append({
            "id": contact_id, "outcome": first["outcome"], "rag": first["rag"],
            "received_at": _z(scenario_contacts[contact_id].received_at),
            **{k: first[k] for k in ("ended_at", "deadlines", "notifications", "flags", "path",
                                     "lateness")},
            # each child the contact names, in its order, with its own result (issue 17)
            "children": [{"child": n, **(first if i == instance_id else child(i))}
                         for n, i in enumerate(children.get(contact_id, [instance_id]))],
        })
    disagreements = []
    for disagreement_id, instance_id in run.disagreements.items():
        row = rows[instance_id]
        disagreements.append({
            "id": disagreement_id, "outcome": row.outcome, "ended_at": _z(row.ended_at),
            "deadlines": due[instance_id],
            "notifications": sent[instance_id], "path": path[instance_id],
            "lateness": late[instance_id],
        })
    return contacts, disagreements, minutes, _heat(run)


def _tally(items: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for d in items:
        entry = result.setdefault(d["name"], {"met": 0, "breached": 0})
        if d["met"] is True:
            entry["met"] += 1
        elif d["met"] is False:
            entry["breached"] += 1
    return dict(sorted(result.items()))


def summarise(contacts: list[dict[str, Any]], disagreements: list[dict[str, Any]],
              steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_rag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for contact in contacts:
        by_rag[contact["rag"] or "none"].extend(contact["deadlines"])
    notified = Counter(n["kind"] for c in contacts + disagreements for n in c["notifications"])
    every_child = [child for c in contacts for child in c.get("children") or [c]]
    return {
        "contacts": len(contacts),
        "outcomes": dict(sorted(Counter(c["outcome"] or "none" for c in contacts).items())),
        # each child counted (a contact about siblings is one contact, several children)
        "children": len(every_child),
        "children_outcomes": dict(sorted(Counter(c["outcome"] or "none"
                                                 for c in every_child).items())),
        "deadlines": _tally([d for c in contacts for d in c["deadlines"]]),
        "deadlines_by_rag": {rag: _tally(items) for rag, items in sorted(by_rag.items())},
        "disagreements": len(disagreements),
        "disagreement_outcomes": dict(sorted(Counter(d["outcome"] or "none"
                                                     for d in disagreements).items())),
        "disagreement_deadlines": _tally([d for x in disagreements for d in x["deadlines"]]),
        "notifications": dict(sorted(notified.items())),
        "time_in_step": steps,
    }


def _minutes(conn: Any, calendar: WorkingCalendar) -> dict[str, list[float]]:
    """Per role, the working minutes from each task opening to its completion."""
    minutes: dict[str, list[float]] = defaultdict(list)
    for t in conn.execute(sa.select(human_tasks.c.role, human_tasks.c.created_at,
                                    human_tasks.c.completed_at)
                          .where(human_tasks.c.status == "completed")):
        spent = calendar.working_time_between(t.created_at, t.completed_at)
        minutes[t.role].append(spent.total_seconds() / 60)
    return dict(minutes)


def time_in_step(minutes: dict[str, list[float]]) -> dict[str, Any]:
    return {role: {"tasks": len(values), "mean_working_minutes": round(statistics.mean(values), 1),
                   "median_working_minutes": round(statistics.median(values), 1),
                   "max_working_minutes": round(max(values), 1)}
            for role, values in sorted(minutes.items()) if values}
