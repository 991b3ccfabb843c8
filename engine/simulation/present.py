"""Showing a simulation to a process owner: a readable summary in the terminal, a
self-contained HTML page with charts, and two runs side by side (`--compare`)."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.table import Table


def _rate(entry: dict[str, int]) -> str:
    total = entry["met"] + entry["breached"]
    return f"{entry['met'] / total:.0%}" if total else "-"


def print_summary(report: dict[str, Any], console: Console, title: str = "Simulation") -> None:
    summary = report["summary"]
    console.rule(f"[bold]{title}")
    console.print(f"{summary['contacts']} contacts, {summary['disagreements']} disagreements")

    outcomes = Table(title="Outcomes", show_lines=False)
    outcomes.add_column("outcome")
    outcomes.add_column("contacts", justify="right")
    for name, count in summary["outcomes"].items():
        outcomes.add_row(name, str(count))
    for name, count in summary["disagreement_outcomes"].items():
        outcomes.add_row(f"disagreement: {name}", str(count))
    console.print(outcomes)

    deadlines = Table(title="Deadlines")
    for column in ("rule", "RAG", "met", "breached", "met %"):
        deadlines.add_column(column, justify="right" if column != "rule" else "left")
    for name, entry in summary["deadlines"].items():
        deadlines.add_row(name, "all", str(entry["met"]), str(entry["breached"]), _rate(entry))
    for rag, rules in summary["deadlines_by_rag"].items():
        for name, entry in rules.items():
            deadlines.add_row(name, rag, str(entry["met"]), str(entry["breached"]), _rate(entry))
    for name, entry in summary["disagreement_deadlines"].items():
        deadlines.add_row(name, "-", str(entry["met"]), str(entry["breached"]), _rate(entry))
    console.print(deadlines)

    steps = Table(title="Time in step by role (working time)")
    for column in ("role", "tasks", "mean", "median", "max"):
        steps.add_column(column, justify="right" if column != "role" else "left")
    for role, entry in summary["time_in_step"].items():
        steps.add_row(role, str(entry["tasks"]), _minutes(entry["mean_working_minutes"]),
                      _minutes(entry["median_working_minutes"]),
                      _minutes(entry["max_working_minutes"]))
    console.print(steps)


def _minutes(value: float) -> str:
    hours, minutes = divmod(round(value), 60)
    return f"{hours}h{minutes:02d}" if hours else f"{minutes}m"


def print_comparison(left: dict[str, Any], right: dict[str, Any], left_name: str,
                     right_name: str, console: Console) -> None:
    """The same scenario through two diagram sets: what changes."""
    console.rule("[bold]Comparison")
    table = Table(title="Deadlines met (%)")
    for column in ("rule", "RAG", left_name, right_name, "change"):
        table.add_column(column)
    for rag, rules in _rules(left, right):
        for name in rules:
            a = _entry(left, rag, name)
            b = _entry(right, rag, name)
            table.add_row(name, rag, _rate(a), _rate(b), _change(a, b))
    console.print(table)
    outcomes = Table(title="Outcomes")
    for column in ("outcome", left_name, right_name):
        outcomes.add_column(column)
    names = sorted(set(left["summary"]["outcomes"]) | set(right["summary"]["outcomes"]))
    for name in names:
        outcomes.add_row(name, str(left["summary"]["outcomes"].get(name, 0)),
                         str(right["summary"]["outcomes"].get(name, 0)))
    console.print(outcomes)
    changed = differences(left, right)
    console.print(f"{len(changed)} contact(s) end differently")
    for item in changed[:20]:
        console.print(f"  {item['id']}: {item['what']}")


def _rules(left: dict[str, Any], right: dict[str, Any]) -> list[tuple[str, list[str]]]:
    rags = sorted(set(left["summary"]["deadlines_by_rag"]) | set(right["summary"]["deadlines_by_rag"]))
    result = [("all", sorted(set(left["summary"]["deadlines"]) | set(right["summary"]["deadlines"])))]
    for rag in rags:
        names = set(left["summary"]["deadlines_by_rag"].get(rag, {})) | \
            set(right["summary"]["deadlines_by_rag"].get(rag, {}))
        result.append((rag, sorted(names)))
    return result


def _entry(report: dict[str, Any], rag: str, name: str) -> dict[str, int]:
    source = report["summary"]["deadlines"] if rag == "all" else \
        report["summary"]["deadlines_by_rag"].get(rag, {})
    return dict(source.get(name, {"met": 0, "breached": 0}))


def _change(a: dict[str, int], b: dict[str, int]) -> str:
    ta, tb = a["met"] + a["breached"], b["met"] + b["breached"]
    if not ta or not tb:
        return "-"
    delta = b["met"] / tb - a["met"] / ta
    return f"{delta:+.0%}"


def differences(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, str]]:
    theirs = {c["id"]: c for c in right["contacts"]}
    found = []
    for mine in left["contacts"]:
        other = theirs.get(mine["id"])
        if other is None:
            continue
        what = []
        if mine["outcome"] != other["outcome"]:
            what.append(f"outcome {mine['outcome']} -> {other['outcome']}")
        a = {d["name"]: d["met"] for d in mine["deadlines"]}
        b = {d["name"]: d["met"] for d in other["deadlines"]}
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                what.append(f"{name} {_met(a.get(name))} -> {_met(b.get(name))}")
        if what:
            found.append({"id": mine["id"], "what": "; ".join(what)})
    return found


def _met(value: bool | None) -> str:
    return "met" if value is True else "breached" if value is False else "absent"


# -- HTML ------------------------------------------------------------------------------------

def _bars(title: str, rows: list[tuple[str, int, int]]) -> str:
    """A horizontal stacked bar per row (met green, breached red), as inline SVG."""
    height = 28 * len(rows) + 40
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" viewBox="0 0 720 {height}" '
             f'width="720" height="{height}">']
    widest = max((m + b for _, m, b in rows), default=1) or 1
    for i, (label, met, breached) in enumerate(rows):
        y = 30 + i * 28
        met_w = 420 * met / widest
        breached_w = 420 * breached / widest
        parts.append(f'<text x="0" y="{y + 14}" font-size="13">{html.escape(label)}</text>')
        parts.append(f'<rect x="240" y="{y}" width="{met_w:.1f}" height="18" fill="#2e7d32">'
                     f'<title>{met} met</title></rect>')
        parts.append(f'<rect x="{240 + met_w:.1f}" y="{y}" width="{breached_w:.1f}" height="18" '
                     f'fill="#c62828"><title>{breached} breached</title></rect>')
        total = met + breached
        share = f"{met / total:.0%} met" if total else "none"
        parts.append(f'<text x="{246 + met_w + breached_w:.1f}" y="{y + 14}" font-size="12">'
                     f'{met}/{total} ({share})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns(title: str, rows: list[tuple[str, float]], unit: str) -> str:
    height = 28 * len(rows) + 40
    widest = max((v for _, v in rows), default=1) or 1
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" viewBox="0 0 720 {height}" '
             f'width="720" height="{height}">']
    for i, (label, value) in enumerate(rows):
        y = 30 + i * 28
        width = 420 * value / widest
        parts.append(f'<text x="0" y="{y + 14}" font-size="13">{html.escape(label)}</text>')
        parts.append(f'<rect x="240" y="{y}" width="{width:.1f}" height="18" fill="#1565c0"/>')
        parts.append(f'<text x="{246 + width:.1f}" y="{y + 14}" font-size="12">'
                     f'{value:g} {unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_report(report: dict[str, Any], title: str = "Simulation report") -> str:
    summary = report["summary"]
    compliance = [(f"{name} (all)", e["met"], e["breached"])
                  for name, e in summary["deadlines"].items()]
    for rag, rules in summary["deadlines_by_rag"].items():
        compliance += [(f"{name} ({rag})", e["met"], e["breached"]) for name, e in rules.items()]
    compliance += [(name, e["met"], e["breached"])
                   for name, e in summary["disagreement_deadlines"].items()]
    workload = [(role, e["tasks"]) for role, e in summary["time_in_step"].items()]
    waiting = [(role, e["mean_working_minutes"]) for role, e in summary["time_in_step"].items()]
    outcomes = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>"
                       for k, v in list(summary["outcomes"].items())
                       + [(f"disagreement: {k}", v)
                          for k, v in summary["disagreement_outcomes"].items()])
    breached = [c for c in report["contacts"] if any(d["met"] is False for d in c["deadlines"])]
    breached_rows = "".join(
        f"<tr><td>{html.escape(c['id'])}</td><td>{html.escape(str(c['rag']))}</td>"
        f"<td>{html.escape(', '.join(d['name'] for d in c['deadlines'] if d['met'] is False))}</td>"
        f"<td>{html.escape(str(c['outcome']))}</td></tr>" for c in breached[:200])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; max-width: 60rem; }}
h1, h2 {{ font-weight: 600; }} table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }}
.key span {{ display: inline-block; width: 1rem; height: 1rem; vertical-align: middle; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{summary['contacts']} contacts and {summary['disagreements']} disagreements, run through the
real diagrams on a virtual clock.</p>
<h2>Deadline compliance</h2>
<p class="key"><span style="background:#2e7d32"></span> met
<span style="background:#c62828"></span> breached</p>
{_bars("Deadline compliance", compliance)}
<h2>Workload by role (tasks)</h2>
{_columns("Tasks by role", [(r, float(v)) for r, v in workload], "tasks")}
<h2>Mean time in step by role (working minutes)</h2>
{_columns("Mean time in step", waiting, "min")}
<h2>Outcomes</h2>
<table><tr><th>outcome</th><th>count</th></tr>{outcomes}</table>
<h2>Contacts with a missed deadline ({len(breached)})</h2>
<table><tr><th>contact</th><th>RAG</th><th>missed</th><th>outcome</th></tr>{breached_rows}</table>
</body></html>
"""
