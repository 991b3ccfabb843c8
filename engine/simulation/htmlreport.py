"""A simulation as a self-contained HTML page (`mash simulate --html`): one run, or the same
scenario through two sets of diagrams side by side (`--compare`): what would change.

Hours, never minutes; every chart (engine/reports/charts: patterns and words as well as
colour) beside a table of its numbers; changes with their direction in words (better,
worse) as well as colour; the diagram with its heat map (the vendored bpmn-js, inlined), so
the file opens anywhere with nothing fetched.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from ..reports import charts
from ..reports.stats import LATE_BANDS, median, p90

VENDOR = Path(__file__).resolve().parents[1] / "web" / "static" / "vendor" / "bpmn-js"
HEATMAP_JS = Path(__file__).resolve().parents[1] / "web" / "static" / "heatmap.js"
BANDS = [label for label, _, _ in LATE_BANDS]
ALL = "all"
DEADLINE_ORDER = ("decision", "rag_timescale", "referrer_outcome")


def _words(name: str) -> str:
    text = name.replace("_", " ")
    return text.replace("rag ", "RAG ").replace("nfa", "NFA")[:1].upper() + \
        text.replace("rag ", "RAG ").replace("nfa", "NFA")[1:]


def _hours(value: float | None) -> str:
    return charts.hours_text(value)


# -- figures from a report ---------------------------------------------------------------------

def deadline_figures(items: list[dict[str, Any]], rag_of: dict[str, str | None] | None
                     ) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (deadline, RAG or "all"): met, missed, share met, the lateness of those done late
    (hours on the deadline's clock) and their distribution over the bands."""
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for item in items:
        rag = (item.get("rag") or "not rated") if rag_of is not None else None
        for deadline, late in zip(item["deadlines"], item.get("lateness") or
                                  [{} for _ in item["deadlines"]], strict=True):
            groups[(deadline["name"], ALL)].append((deadline, late))
            if rag is not None:
                groups[(deadline["name"], rag)].append((deadline, late))
    found = {}
    for key, members in groups.items():
        met = sum(1 for d, _ in members if d["met"] is True)
        missed = sum(1 for d, _ in members if d["met"] is False)
        hours = [late["late_hours"] for d, late in members
                 if d["met"] is False and late.get("late_hours") is not None]
        bands = [0] * len(LATE_BANDS)
        for value in hours:
            from ..reports.stats import band

            bands[band(value)] += 1
        clocks = {late.get("clock") for _, late in members if late.get("clock")}
        found[key] = {"met": met, "missed": missed,
                      "share": 100 * met / (met + missed) if met + missed else None,
                      "median": median(hours), "p90": p90(hours),
                      "max": max(hours) if hours else None, "bands": bands,
                      "clock": clocks.pop() if len(clocks) == 1 else "mixed" if clocks else None}
    return found


def _order(keys: set[tuple[str, str]]) -> list[tuple[str, str]]:
    def rank(key: tuple[str, str]) -> tuple[int, str, int, str]:
        name, rag = key
        position = DEADLINE_ORDER.index(name) if name in DEADLINE_ORDER else len(DEADLINE_ORDER)
        rag_rank = {"all": 0, "RED": 1, "AMBER": 2, "GREEN": 3}.get(rag, 4)
        return position, name, rag_rank, rag
    return sorted(keys, key=rank)


def _label(key: tuple[str, str]) -> str:
    name, rag = key
    return _words(name) + ("" if rag == ALL else f" ({rag})")


def _steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return report["summary"].get("time_in_step", {})


# -- changes in words ---------------------------------------------------------------------------

def change(before: float | None, after: float | None, better: str, unit: str = "",
           points: bool = False) -> dict[str, str]:
    """A change with its direction in words and a class for its colour. `better`: "up",
    "down" or "neither" (a count of tasks is neither better nor worse)."""
    if before is None or after is None:
        return {"text": "—", "css": "same", "words": ""}
    delta = after - before
    if abs(delta) < 1e-9:
        return {"text": "no change", "css": "same", "words": ""}
    arrow = "▲" if delta > 0 else "▼"
    amount = f"{delta:+.1f}".replace(".0", "") + (" points" if points else f" {unit}".rstrip())
    if better == "neither":
        return {"text": f"{arrow} {amount}", "css": "neutral",
                "words": "more" if delta > 0 else "fewer"}
    good = (delta > 0) == (better == "up")
    return {"text": f"{arrow} {amount}", "css": "better" if good else "worse",
            "words": "better" if good else "worse"}


# -- contacts that end differently ----------------------------------------------------------------

def _names(report: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for rows in (report.get("heatmap") or {}).values():
        for row in rows:
            found.setdefault(row["element_id"], row["name"])
    return found


def _path_words(path: list[str], names: dict[str, str]) -> list[str]:
    """The steps a person would recognise: those the diagram names (an unnamed merge is
    left out)."""
    return [names[step] for step in path if names.get(step, step) != step]


def diverging(before: list[str], after: list[str]) -> tuple[int, list[str], list[str]]:
    """How many first steps the two paths share, and where each goes from there."""
    same = 0
    for a, b in zip(before, after, strict=False):
        if a != b:
            break
        same += 1
    return same, before[same:], after[same:]


def ended_differently(left: list[dict[str, Any]], right: list[dict[str, Any]],
                      names_left: dict[str, str], names_right: dict[str, str]
                      ) -> list[dict[str, Any]]:
    theirs = {c["id"]: c for c in right}
    found = []
    for mine in left:
        other = theirs.get(mine["id"])
        if other is None:
            continue
        what = []
        if mine.get("outcome") != other.get("outcome"):
            what.append(f"outcome {mine.get('outcome')} → {other.get('outcome')}")
        a = {d["name"]: d["met"] for d in mine["deadlines"]}
        b = {d["name"]: d["met"] for d in other["deadlines"]}
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                what.append(f"{_words(name)}: {_met(a.get(name))} → {_met(b.get(name))}")
        if not what and mine.get("path") == other.get("path"):
            continue
        if not what:
            what.append("same outcome and deadlines, by another path")
        same, tail_a, tail_b = diverging(mine.get("path") or [], other.get("path") or [])
        found.append({"id": mine["id"], "rag": (mine.get("rag"), other.get("rag")),
                      "what": what, "same": same,
                      "before": _path_words(tail_a, names_left),
                      "after": _path_words(tail_b, names_right)})
    return found


def _met(value: bool | None) -> str:
    return "met" if value is True else "missed" if value is False else "not started"


# -- the page -----------------------------------------------------------------------------------

def _diagrams(report: dict[str, Any], xml: dict[str, str] | None) -> list[dict[str, Any]]:
    found = []
    for file, rows in (report.get("heatmap") or {}).items():
        if xml is None or file not in xml:
            continue
        timed = [r for r in rows if r["passed"] and r["kind"] != "automatic"]
        found.append({"file": file, "data": Markup(json.dumps(
            {"xml": xml[file], "elements": rows}).replace("</", "<\\/")),
            "rows": [{**r, "median": _hours(r["median_hours"]), "p90": _hours(r["p90_hours"])}
                     for r in timed[:15]]})
    return found


def _runs(reports: list[dict[str, Any]], names: list[str],
          xml: list[dict[str, str] | None]) -> dict[str, Any]:
    figures = [deadline_figures(r["contacts"], {}) for r in reports]
    stages = [deadline_figures(r["disagreements"], None) for r in reports]
    keys = _order(set().union(*[set(f) for f in figures]))
    stage_keys = _order(set().union(*[set(f) for f in stages]))
    two = len(reports) == 2
    # Tables and legends say before and after; the heading names both folders in full.
    cols = ["Before", "After"] if two else ["This run"]
    legend = [f"{c} ({Path(n).name or n})" for c, n in zip(cols, names, strict=True)]

    def rows(all_figures: list[dict[tuple[str, str], dict[str, Any]]],
             keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        found = []
        for key in keys:
            runs = [f.get(key) for f in all_figures]
            entry: dict[str, Any] = {"label": _label(key), "name": key[0], "runs": [
                {"met": r["met"] if r else 0, "missed": r["missed"] if r else 0,
                 "share": "—" if not r or r["share"] is None else f"{r['share']:.0f}%",
                 "median": _hours(r["median"]) if r else "—", "p90": _hours(r["p90"]) if r else "—",
                 "max": _hours(r["max"]) if r else "—", "bands": r["bands"] if r else [0] * 6,
                 "clock": {"working": "Hub working hours", "elapsed": "elapsed hours",
                           "mixed": "each on its own clock"}.get((r or {}).get("clock") or "", "—")}
                for r in runs]}
            if two:
                a, b = runs[0] or {}, runs[1] or {}
                entry["share_change"] = change(a.get("share"), b.get("share"), "up", points=True)
                entry["median_change"] = change(a.get("median"), b.get("median"), "down", "h")
                entry["p90_change"] = change(a.get("p90"), b.get("p90"), "down", "h")
            if any(r and any(r["bands"]) for r in runs):
                entry["chart"] = charts.grouped_columns(
                    f"How late: {_label(key)}", BANDS,
                    [(n, (r or {"bands": [0] * 6})["bands"]) for n, r in zip(legend, runs, strict=True)],
                    f"Missed deadlines done late, by how late ({entry['runs'][0]['clock']}); "
                    "numbers in the table beside it.")
            found.append(entry)
        return found

    deadline_rows = rows(figures, keys)
    stage_rows = rows(stages, stage_keys)
    met_chart = charts.paired_bars(
        "Deadlines met", [(_label(k), figures[0].get(k, {}).get("share"),
                           figures[-1].get(k, {}).get("share")) for k in keys],
        (legend[0], legend[-1]), "The share of each deadline met in each run; numbers in the "
        "table.") if two else charts.met_bars(
        "Deadlines met", [(_label(k), figures[0][k]["met"], figures[0][k]["missed"]) for k in keys],
        "The share of each deadline met and missed; numbers in the table.")
    roles = sorted(set().union(*[set(_steps(r)) for r in reports]))
    step_rows = []
    for role in roles:
        entries = [_steps(r).get(role) for r in reports]
        medians = [e["median_working_minutes"] / 60 if e else None for e in entries]
        tasks = [e["tasks"] if e else 0 for e in entries]
        row: dict[str, Any] = {"role": role, "tasks": tasks, "median": [_hours(m) for m in medians],
                               "max": [_hours(e["max_working_minutes"] / 60) if e else "—"
                                       for e in entries]}
        if two:
            row["tasks_change"] = change(tasks[0], tasks[1], "neither")
            row["median_change"] = change(medians[0], medians[1], "down", "h")
        step_rows.append(row)
    step_chart = charts.paired_bars(
        "Median time in step by role (Hub working hours)",
        [(r, *(_steps(x).get(r, {}).get("median_working_minutes", 0) / 60 for x in
               (reports[0], reports[-1]))) for r in roles] if two else [],
        (legend[0], legend[-1]), "Median working hours a task of each role took.", unit="h") \
        if two and roles else charts.hbars(
        "Median time in step by role (Hub working hours)",
        [(r, _steps(reports[0])[r]["median_working_minutes"] / 60,
          _hours(_steps(reports[0])[r]["median_working_minutes"] / 60)) for r in roles],
        "Median working hours a task of each role took.") if roles else None
    outcome_names = sorted(set().union(*[set(r["summary"]["outcomes"]) for r in reports]))
    outcomes: list[dict[str, Any]] = [
        {"name": _words(o), "counts": [r["summary"]["outcomes"].get(o, 0) for r in reports]}
        for o in outcome_names]
    for o in outcomes:  # (a count of outcomes is neither better nor worse)
        if two:
            o["change"] = change(o["counts"][0], o["counts"][1], "neither")
    d_names = sorted(set().union(*[set(r["summary"]["disagreement_outcomes"]) for r in reports]))
    d_outcomes: list[dict[str, Any]] = [
        {"name": _words(o), "counts": [r["summary"]["disagreement_outcomes"].get(o, 0)
                                       for r in reports]} for o in d_names]
    for o in d_outcomes:
        if two:
            o["change"] = change(o["counts"][0], o["counts"][1], "neither")
    context: dict[str, Any] = {
        "names": names, "cols": cols, "two": two, "reports": reports, "deadline_rows": deadline_rows,
        "stage_rows": stage_rows, "met_chart": met_chart, "step_rows": step_rows,
        "step_chart": step_chart, "outcomes": outcomes, "d_outcomes": d_outcomes,
        "bands": BANDS,
        "diagrams": [_diagrams(r, x) for r, x in zip(reports, xml, strict=True)],
    }
    if two:
        names_a, names_b = _names(reports[0]), _names(reports[1])
        context["changed"] = ended_differently(reports[0]["contacts"], reports[1]["contacts"],
                                               names_a, names_b)
        context["changed_d"] = ended_differently(reports[0]["disagreements"],
                                                 reports[1]["disagreements"], names_a, names_b)
    else:
        missed = [c for c in reports[0]["contacts"] if any(d["met"] is False for d in c["deadlines"])]
        context["missed"] = [{"id": c["id"], "rag": c["rag"] or "not rated",
                              "outcome": c["outcome"],
                              "which": ", ".join(_words(d["name"]) for d in c["deadlines"]
                                                 if d["met"] is False)} for c in missed[:200]]
        context["missed_total"] = len(missed)
    return context


def _scripts(context: dict[str, Any]) -> Markup:
    if not any(context["diagrams"]):
        return Markup("")
    viewer = (VENDOR / "bpmn-navigated-viewer.production.min.js").read_text(encoding="utf-8")
    heat = HEATMAP_JS.read_text(encoding="utf-8")
    boot = """  // draw each diagram of the report with its heat map
(function () {
  document.querySelectorAll("[data-heat-source]").forEach(function (box) {
    var status = document.getElementById(box.id + "-status");
    var data = JSON.parse(document.getElementById(box.dataset.heatSource).textContent);
    var viewer = new window.BpmnJS({ container: box });
    viewer.importXML(data.xml).then(function () {
      viewer.get("canvas").zoom("fit-viewport", "auto");
      var count = window.MashHeat.mark(viewer, data.elements);
      box.dataset.ready = "true";
      if (status) status.textContent = count + " steps labelled with how many passed and how long they took.";
    }).catch(function (error) {
      box.dataset.ready = "error";
      if (status) status.textContent = "The diagram could not be drawn (" + error.message +
        "); the table has the figures.";
    });
  });
})();
"""
    safe = [s.replace("</script", "<\\/script") for s in (viewer, heat, boot)]
    return Markup("".join(f"<script>{s}</script>" for s in safe))


def _styles() -> Markup:
    css = ""
    for name in ("diagram-js.css", "bpmn-js.css"):
        css += (VENDOR / name).read_text(encoding="utf-8")
    return Markup(css.replace("</style", ""))


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
TEMPLATE = _ENV.from_string((Path(__file__).parent / "report.html").read_text(encoding="utf-8"))
# (report.html is the page: a template beside this module, autoescaped)


def diagram_files(processes: Path | None) -> dict[str, str] | None:
    if processes is None or not processes.is_dir():
        return None
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(processes.glob("*.bpmn"))}


def html_report(report: dict[str, Any], title: str = "Simulation report",
                name: str = "the diagrams", processes: Path | None = None) -> str:
    context = _runs([report], [name], [diagram_files(processes)])
    return TEMPLATE.render(title=title, vendor_css=_styles(), scripts=_scripts(context),
                           **context)


def html_comparison(before: dict[str, Any], after: dict[str, Any], before_name: str,
                    after_name: str, before_processes: Path | None = None,
                    after_processes: Path | None = None,
                    title: str = "What the change would do") -> str:
    context = _runs([before, after], [before_name, after_name],
                    [diagram_files(before_processes), diagram_files(after_processes)])
    return TEMPLATE.render(title=title, vendor_css=_styles(), scripts=_scripts(context),
                           **context)


__all__ = ["Counter", "html_comparison", "html_report"]
