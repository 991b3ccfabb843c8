"""Showing a simulation to a process owner: a readable summary in the terminal, a
self-contained HTML page with charts, and two runs side by side (`--compare`)."""

from __future__ import annotations

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


# -- HTML: see htmlreport.py-----------------------------------------------------------------

from .htmlreport import html_comparison, html_report  # noqa: E402  (the names callers import)

__all__ = ["differences", "html_comparison", "html_report", "print_comparison", "print_summary"]
