"""Management information pages, for managers and admins (engine/reports reads the numbers):

- `/dashboard`: the timeliness dashboard: contacts received, each deadline met and how
  late, outcomes, re-referrals, open work now; each chart with its table.
- `/dashboard/contacts.csv`, `/dashboard/contacts.xlsx`: the contacts register.
- `/processes/{process}`: the live diagram with the heat map: where contacts wait.
- `/processes/{process}/heatmap.json`: the diagram and its heat map, for the page's script
  (and the case view's "show where contacts wait").
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from ...deployments import UnknownProcess
from ...queries import jsonable
from ...reports import ReportError, may_see, may_see_names
from ...reports import charts as draw
from ...reports.period import CHANNELS, NOT_RATED, RAGS, Filters, Period
from ...reports.reader import reports_for
from ...reports.register import as_csv, as_xlsx
from ...reports.stats import LATE_BANDS
from ...reports.timeliness import CHANNEL_WORDS
from ...service import Engine
from .. import timing, views
from ..render import HEADERS, page
from ..session import Session, signed_in
from .common import chrome, refused

FromDay = Annotated[str | None, Query(alias="from")]  # `from` is a Python keyword
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BY_DAY_UP_TO = 62  # days: a longer period is charted by week


def _words(name: str) -> str:
    return views.label(name)


def deadline_label(row: dict[str, Any]) -> str:
    rag = row["rag"]
    return _words(row["deadline"]) + ("" if rag is None else
                                      f" ({'not rated' if rag == NOT_RATED else rag})")


CLOCKS = {"working": "Hub working hours", "elapsed": "elapsed hours",
          "mixed": "each on its own clock", None: "—"}


def received_chart(data: dict[str, Any], period: Period) -> tuple[Any, list[dict[str, Any]], str]:
    """The contacts chart, by day for a short period and by week for a long one."""
    received = data["contacts"]
    channels = received["channels"] or ["email"]
    weekly = period.days > BY_DAY_UP_TO
    rows = received["by_week"] if weekly else received["by_day"]
    key = "week_starting" if weekly else "date"
    from datetime import date

    def label(text: str) -> str:
        day = date.fromisoformat(text)
        return f"{day.day} {day:%b}" if weekly else f"{day:%a} {day.day}"

    labels = [label(r[key]) for r in rows]
    series = [(CHANNEL_WORDS.get(c, c), [r.get(c, 0) for r in rows]) for c in channels]
    unit = "week (weeks start on Monday)" if weekly else "day"
    chart = draw.stacked_columns(
        f"Contacts received per {unit.split(' ')[0]}", labels, series,
        f"Contacts received per {unit}, by channel; the table below gives the numbers.")
    table = [{"when": (f"w/c {label(r[key])}" if weekly else label(r[key])), "total": r["total"],
              "by": [r.get(c, 0) for c in channels]} for r in rows]
    return chart, table, unit


def _deadline_rows(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for f in figures:
        late = f["lateness"]
        rows.append({
            "label": deadline_label(f), "clock": CLOCKS.get(f["basis"], f["basis"]),
            "met": f["met"], "late": f["late"], "late_open": f["late_open"],
            "not_done": f["not_done"],
            "running": f["running"], "decided": f["decided"],
            "share": "—" if f["met_share"] is None else f"{f['met_share']:.0%}",
            "median": draw.hours_text(late["median_hours"]),
            "p90": draw.hours_text(late["p90_hours"]),
            "max": draw.hours_text(late["max_hours"]),
            "bands": [b["count"] for b in late["bands"]],
            "missed": f["missed"],
        })
    return rows


def _lateness_charts(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    labels = [label for label, _, _ in LATE_BANDS]
    for f in figures:
        missed = f["late"] + f["late_open"]  # the ones whose lateness can be measured
        if not missed:
            continue
        title = f"How late: {deadline_label(f)}"
        counts = [b["count"] for b in f["lateness"]["bands"]]
        found.append({"title": title, "chart": draw.columns(
            title, labels, counts,
            f"{missed} missed, by how late ({CLOCKS.get(f['basis'])}); numbers in the table.")})
    return found


def dashboard_context(data: dict[str, Any], period: Period) -> dict[str, Any]:
    chart, table, unit = received_chart(data, period)
    channels = data["contacts"]["channels"] or ["email"]
    contact_rows = _deadline_rows(data["deadlines"])
    stage_rows = _deadline_rows(data["disagreements"]["deadlines"])
    met = draw.met_bars("Deadlines met", [(r["label"], r["met"], r["missed"])
                                          for r in contact_rows],
                        "The share of each deadline met and missed; numbers in the table.")
    stages = draw.met_bars("Escalation stages answered in time",
                           [(r["label"], r["met"], r["missed"]) for r in stage_rows],
                           "The share of each escalation stage answered in time.") \
        if stage_rows else None
    outcomes = [(_words(o["outcome"]) if o["outcome"] != "not decided yet" else "Not decided yet",
                 o["count"], f"{o['count']} ({o['share']:.0%})" if o["share"] is not None else "0")
                for o in data["outcomes"]]
    open_work = data["open_work"]
    return {
        "received_chart": chart, "received_table": table, "received_unit": unit,
        "channel_names": [CHANNEL_WORDS.get(c, c) for c in channels],
        "contact_rows": contact_rows, "stage_rows": stage_rows,
        "met_chart": met, "stages_chart": stages,
        "lateness_charts": _lateness_charts(data["deadlines"] + data["disagreements"]["deadlines"]),
        "band_labels": [label for label, _, _ in LATE_BANDS],
        "outcome_rows": outcomes,
        "outcome_chart": draw.hbars("Outcomes", outcomes, "Contacts by outcome; numbers in the "
                                    "table.", style=0) if outcomes else None,
        "open_chart": draw.hbars("Open work now by role",
                                 [(w["role"], w["open"], f"{w['open']} open, {w['overdue']} overdue")
                                  for w in open_work],
                                 "Open tasks by role now; numbers in the table.", style=4)
        if open_work else None,
    }


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()
    reports = reports_for(engine)

    def not_allowed(session: Session) -> Response | None:
        if may_see(session.caller.roles):
            return None
        return refused(engine, session, 403, "For managers",
                       "Management information is for the Hub's managers. Ask a manager or "
                       "an administrator if you need it.")

    def chosen(session: Session, first: str | None, last: str | None, rag: str | None,
               channel: str | None, outcome: str | None, team: str | None
               ) -> tuple[Period, Filters] | Response:
        try:
            return reports.period(first or None, last or None), \
                reports.filters(rag, channel, outcome, team)
        except ReportError as err:
            return refused(engine, session, 422, "That period or filter cannot be shown",
                           f"{err.field}: {err.message}. Go back and change it.")

    @pages.get("/dashboard", include_in_schema=False)
    def dashboard(session: Session = Depends(signed_in), from_: FromDay = None,
                  to: str | None = None, rag: str | None = None, channel: str | None = None,
                  outcome: str | None = None, team: str | None = None) -> Response:
        if (answer := not_allowed(session)) is not None:
            return answer
        found = chosen(session, from_, to, rag, channel, outcome, team)
        if isinstance(found, Response):
            return found
        period, filters = found
        data = reports.timeliness(period, filters)
        query = urlencode({k: v for k, v in {"from": period.first.isoformat(),
                                             "to": period.last.isoformat(),
                                             **filters.as_dict()}.items() if v})
        zone = engine.calendar.zone
        return page("dashboard.html", data=data, period=period, filters=filters, query=query,
                    rags=(*RAGS, NOT_RATED), channels=CHANNELS, channel_words=CHANNEL_WORDS,
                    outcomes=_outcome_choices(data), teams=data["teams"],
                    names_allowed=may_see_names(session.caller.roles),
                    processes=reports.processes(),
                    now_text=timing.local(engine.clock.now(), zone),
                    oldest=[{**w, "oldest": timing.local(w["oldest_created_at"], zone)}
                            for w in data["open_work"]],
                    **dashboard_context(data, period), **chrome(engine, session, "dashboard"))

    @pages.get("/dashboard/contacts.{kind}", include_in_schema=False)
    def export(kind: str, session: Session = Depends(signed_in), from_: FromDay = None,
               to: str | None = None, rag: str | None = None, channel: str | None = None,
               outcome: str | None = None, team: str | None = None,
               names: str | None = None) -> Response:
        if (answer := not_allowed(session)) is not None:
            return answer
        if kind not in ("csv", "xlsx"):
            return refused(engine, session, 404, "No such download",
                           "The register can be downloaded as CSV or XLSX.")
        with_names = names == "yes"
        if with_names and not may_see_names(session.caller.roles):
            return refused(engine, session, 403, "Names are not for your role",
                           "Children's names are in the register only for the MASH Team "
                           "Manager and administrators. Download it without names.")
        found = chosen(session, from_, to, rag, channel, outcome, team)
        if isinstance(found, Response):
            return found
        period, filters = found
        register = reports.register(period, filters, with_names)
        name = f"contacts-{period.first}-to-{period.last}.{kind}"
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        if kind == "csv":
            return Response(as_csv(register).encode("utf-8-sig"),
                            media_type="text/csv; charset=utf-8", headers=headers)
        return Response(as_xlsx(register), media_type=XLSX, headers=headers)

    @pages.get("/processes/{process_id}", include_in_schema=False)
    def process_page(process_id: str, session: Session = Depends(signed_in),
                     from_: FromDay = None, to: str | None = None) -> Response:
        if (answer := not_allowed(session)) is not None:
            return answer
        found = chosen(session, from_, to, None, None, None, None)
        if isinstance(found, Response):
            return found
        period, _ = found
        try:
            heat = reports.heatmap(process_id, period)
        except UnknownProcess:
            return refused(engine, session, 404, "No such process",
                           "There is no deployed process with this name.")
        rows = [{**e, "median": draw.hours_text(e["median_hours"]),
                 "p90": draw.hours_text(e["p90_hours"])} for e in heat["elements"]]
        return page("process.html", heat=heat, rows=rows, period=period,
                    source=f"/processes/{process_id}/heatmap.json?" + urlencode(
                        {"from": period.first.isoformat(), "to": period.last.isoformat()}),
                    processes=reports.processes(), **chrome(engine, session, "dashboard"))

    @pages.get("/processes/{process_id}/heatmap.json", include_in_schema=False)
    def process_heat(process_id: str, session: Session = Depends(signed_in),
                     from_: FromDay = None, to: str | None = None) -> Response:
        if not may_see(session.caller.roles):
            return JSONResponse({"errors": [{"field": "role", "message": "is not a manager's"}]},
                                status_code=403, headers=HEADERS)
        try:
            period = reports.period(from_ or None, to or None)
            heat = reports.heatmap(process_id, period)
        except ReportError as err:
            return JSONResponse({"errors": [{"field": err.field, "message": err.message}]},
                                status_code=422, headers=HEADERS)
        except UnknownProcess:
            return JSONResponse({"errors": [{"field": "process", "message": "is not deployed"}]},
                                status_code=404, headers=HEADERS)
        heat["xml"] = reports.diagram_xml(heat["version_id"], heat["file"])
        return JSONResponse(jsonable(heat), headers=HEADERS)

    return pages


def _outcome_choices(data: dict[str, Any]) -> list[str]:
    known = ["s47", "s17", "early_help", "signpost", "advice", "nfa", "redirected",
             "forwarded_to_allocated_worker", "information_shared", "information_declined",
             "missing_forwarded"]
    seen = [o["outcome"] for o in data["outcomes"] if o["outcome"] != "not decided yet"]
    return known + sorted(set(seen) - set(known))
