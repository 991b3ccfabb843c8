"""The reference documents keep up with what they describe: docs/process.md names every role,
form field, outcome, deadline and notification the diagrams use and its worked examples are
what the calendar computes; docs/api.md lists every call the service answers and every
field of a contact."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from engine import diagrams
from engine.calendar_config import calendar_for
from handlers import intake
from tests.pathways.harness import PROCESSES, REPOSITORY

PROCESS_DOC = (REPOSITORY / "docs" / "process.md").read_text(encoding="utf-8")
API_DOC = (REPOSITORY / "docs" / "api.md").read_text(encoding="utf-8")
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def elements() -> Iterator[object]:
    found = diagrams.load([PROCESSES])
    for model in found.models.values():
        yield from model.elements.values()


def named(text: str, name: str) -> bool:
    return f"`{name}`" in text


def test_the_worked_examples_are_what_the_calendar_computes() -> None:
    calendar = calendar_for(PROCESSES)
    zone = ZoneInfo("Europe/London")
    rows = re.findall(r"^\| (\w{3} \d\d \w{3} \d{4} \d\d:\d\d) \| `(\w+)\((\d+)\)` \| "
                      r"(\w{3} \d\d \w{3} \d{4} \d\d:\d\d) \|$", PROCESS_DOC, re.M)
    assert len(rows) >= 10
    for start, rule, n, expected in rows:
        since = datetime.strptime(start, "%a %d %b %Y %H:%M").replace(tzinfo=zone)
        due = getattr(calendar, rule)(int(n), since)
        assert due.astimezone(zone).strftime("%a %d %b %Y %H:%M") == expected, (start, rule, n)


def test_every_role_of_the_diagrams_is_described() -> None:
    from engine.api.auth import lane_roles

    table = PROCESS_DOC.split("## Roles", 1)[1].split("\n## ", 1)[0]
    missing = [role for role in lane_roles(PROCESSES) if f"| {role} |" not in table]
    assert missing == [], "add these lanes to docs/process.md, Roles"


def test_every_form_field_is_named() -> None:
    fields = {f["id"] for e in elements() for f in getattr(e, "form", [])}
    assert len(fields) > 20
    missing = sorted(f for f in fields if not named(PROCESS_DOC, f))
    assert missing == [], "add these form fields to docs/process.md"


def test_every_outcome_deadline_and_notification_is_named() -> None:
    outcomes, deadlines, kinds = set(), set(), {"deadline_breach"}
    for path in sorted(PROCESSES.glob("*.bpmn")):
        for element in etree.parse(str(path)).iter():
            values = {p.get("name"): p.get("value") for p in element.iter(f"{CAMUNDA}property")}
            if element.tag.endswith("}endEvent") and values.get("outcome", "").isidentifier():
                outcomes.add(values["outcome"])
            elif element.tag.endswith("}boundaryEvent") and values.get("deadline"):
                deadlines.add(values["deadline"])
            elif element.get(f"{CAMUNDA}topic") == "notify" and values.get("kind"):
                kinds.add(values["kind"])
    assert {"s47", "partnership"} <= outcomes and "decision" in deadlines and len(kinds) >= 10
    missing = sorted(n for n in outcomes | deadlines | kinds if not named(PROCESS_DOC, n)
                     and not (n.startswith("stage_") and "`stage_1_response` …" in PROCESS_DOC))
    assert missing == [], "add these to docs/process.md"


@pytest.fixture
def described(tmp_path: Path) -> dict[str, object]:
    from datetime import UTC

    from engine.serve import build

    app, engine = build(PROCESSES, f"sqlite:///{tmp_path / 'mash.sqlite'}",
                        datetime(2026, 11, 23, 9, tzinfo=UTC))
    try:
        return app.openapi()
    finally:
        engine.store.dispose()


def test_every_call_is_in_the_api_reference(described: dict[str, object]) -> None:
    paths = described["paths"]
    assert isinstance(paths, dict)
    table = API_DOC.split("## Calls", 1)[1]
    missing = []
    for path, operations in paths.items():
        for method in operations:
            # the table writes a path's parameters by short names: {id}, {process}
            pattern = re.escape(f"`{method.upper()} ") + re.sub(
                r"\\\{\w+\\\}", r"\\{\\w+\\}", re.escape(path))
            if not re.search(pattern, table):
                missing.append(f"{method.upper()} {path}")
    assert missing == [], "add these calls to docs/api.md, Calls"


def test_every_contact_field_is_in_the_api_reference() -> None:
    table = API_DOC.split("### The contact", 1)[1].split("\n### ", 1)[0]
    missing = [f for f in intake.TOP_FIELDS if f"| `{f}` |" not in table]
    missing += [f"child.{f}" for f in intake.CHILD_FIELDS if f"`{f}`" not in table]
    missing += [f"referrer.{f}" for f in intake.REFERRER_FIELDS if f"`{f}`" not in table]
    assert missing == [], "add these contact fields to docs/api.md, The contact"


def test_every_metric_the_operations_guide_names_is_served(tmp_path: Path) -> None:
    """docs/operations.md's metrics (and the alert rules written on them) are what /metrics
    answers."""
    from datetime import UTC

    from engine.api.metrics import metrics_text
    from engine.serve import build

    guide = (REPOSITORY / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b(mash_[a-z_]+?)(?:_bucket|_sum|_count)?\b", guide))
    _, engine = build(PROCESSES, f"sqlite:///{tmp_path / 'metrics.sqlite'}",
                      datetime(2026, 11, 23, 9, tzinfo=UTC))
    try:
        served = set(re.findall(r"^# HELP (mash_\w+)", metrics_text(engine), re.M))
    finally:
        engine.store.dispose()
    assert len(named) >= 10
    assert sorted(named - served) == [], "docs/operations.md names metrics /metrics lacks"
    assert sorted(served - named) == [], "describe these metrics in docs/operations.md"

