"""Timescales and windows are settings beside the diagrams, changed with no Python.

The re-referral window is a property of the case-record step; the RAG timescale (RED 4 working
hours, AMBER 16, GREEN 72 hours) is written once, in the decision table
processes/rag_timescale.dmn, which first response and the missing child pathway both run
(issue 14, point 10): changing the table changes both pathways' deadlines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from engine import diagrams
from engine.cli import main
from tests.pathways.harness import PROCESSES, Hub, instant

CLOSED = [{"child_id": "C7", "status": "closed", "closed_on": "2026-09-10",
           "allocated_worker": "P. Previous", "team": "Early Help"}]
NS = {"bpmn": diagrams.NS["bpmn"], "camunda": diagrams.NS["camunda"]}


def processes_with(tmp_path: Path, file: str, *changes: tuple[str, str]) -> Path:
    folder = tmp_path / "processes"
    if not folder.exists():
        shutil.copytree(PROCESSES, folder)
    changed = folder / file
    text = changed.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    changed.write_text(text)
    return folder


def second(database_url: str, request: pytest.FixtureRequest) -> str:
    """A database of the same kind for the changed diagrams, empty (the first one's contacts
    would be earlier contacts about the same children)."""
    if database_url.startswith("sqlite"):
        return database_url.replace(".sqlite", "-2.sqlite")
    return str(request.getfixturevalue("postgres_server").new_database())


def opened(hub: Hub, rag: str, child: dict[str, str] | None = None) -> str:
    """A contact received Mon 23 Nov 10:00, BRAG-ed `rag` and opened at once (Step 4)."""
    contact = hub.contact(received_at="2026-11-23T10:00:00Z",
                          child=child or {"postcode": "BH1 1AA"})
    hub.complete(contact, "verify", accepted=True)
    hub.complete(contact, "brag", rag=rag, consent_decision="confirmed",
                 threshold_level=4 if rag == "RED" else 3)
    hub.complete(contact, "open_contact_task")
    return contact


def missing_opened(hub: Hub, rag: str) -> str:
    """A missing person report received Mon 23 Nov 10:00, BRAG-ed `rag`, opened at once."""
    contact = hub.contact(received_at="2026-11-23T10:00:00Z", missing=True)
    hub.complete(contact, "missing_brag", rag=rag, consent_decision="confirmed",
                 threshold_level=4 if rag == "RED" else 3)
    hub.complete(contact, "missing_open_contact")
    return contact


def rag_dues(hub: Hub) -> dict[str, object]:
    """The RAG timescale's due instant in each pathway, for each rating."""
    dues: dict[str, object] = {}
    for rag in ("RED", "AMBER", "GREEN"):
        dues[f"first_response {rag}"] = hub.deadline(opened(hub, rag), "rag_timescale")["due"]
        dues[f"missing_child {rag}"] = hub.deadline(missing_opened(hub, rag),
                                                    "rag_timescale")["due"]
    return dues


def test_the_re_referral_window_is_a_property_of_the_diagram(
        database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    as_drawn = Hub(database_url, start="2026-11-23T10:00:00+00:00", case_records=CLOSED)
    contact = opened(as_drawn, "RED", {"id": "C7", "name": "Sam", "postcode": "BH1 1AA"})
    assert as_drawn.view(contact)["flags"] == ["re_referral"]  # closed 10 Sep: within 3 months
    as_drawn.close()

    changed = processes_with(
        tmp_path, "first_response.bpmn",
        ('<camunda:property name="re_referral_months" value="3" />',
         '<camunda:property name="re_referral_months" value="2" />'))
    other = Hub(second(database_url, request), start="2026-11-23T10:00:00+00:00",
                processes=changed,
                case_records=CLOSED)
    contact = opened(other, "RED", {"id": "C7", "name": "Sam", "postcode": "BH1 1AA"})
    assert other.view(contact)["flags"] == []  # 10 Sep is more than 2 months before
    other.close()


def test_one_decision_table_sets_the_rag_timescale_of_both_pathways(
        database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Opened Mon 23 Nov 10:00 (GMT). As drawn: RED 4 working hours (14:00), AMBER 16 (Mon
    # 7h15 to 17:15, Tue 8h45 to 17:15: Tue 24 Nov 17:15), GREEN 72 elapsed hours (Thu 10:00).
    as_drawn = Hub(database_url, start="2026-11-23T10:00:00+00:00")
    assert rag_dues(as_drawn) == {
        f"{pathway} {rag}": instant(due)
        for pathway in ("first_response", "missing_child")
        for rag, due in (("RED", "2026-11-23T14:00:00Z"), ("AMBER", "2026-11-24T17:15:00Z"),
                         ("GREEN", "2026-11-26T10:00:00Z"))}
    as_drawn.close()

    # A process owner changes the table in the DMN editor, nothing else: RED 2 working hours
    # (12:00), AMBER 8 (Mon 7h15, Tue 45 min: 09:15), GREEN 48 hours (Wed 10:00).
    changed = processes_with(
        tmp_path, "rag_timescale.dmn",
        ("working_hours(4, since=rag_since)", "working_hours(2, since=rag_since)"),
        ("working_hours(16, since=rag_since)", "working_hours(8, since=rag_since)"),
        ("hours(72, since=rag_since)", "hours(48, since=rag_since)"))
    other = Hub(second(database_url, request), start="2026-11-23T10:00:00+00:00",
                processes=changed)
    assert rag_dues(other) == {
        f"{pathway} {rag}": instant(due)
        for pathway in ("first_response", "missing_child")
        for rag, due in (("RED", "2026-11-23T12:00:00Z"), ("AMBER", "2026-11-24T09:15:00Z"),
                         ("GREEN", "2026-11-25T10:00:00Z"))}
    other.close()


def test_a_re_rating_to_red_takes_the_red_timescale_from_the_table(database_url: str,
                                                                   tmp_path: Path) -> None:
    changed = processes_with(
        tmp_path, "rag_timescale.dmn",
        ("working_hours(4, since=rag_since)", "working_hours(1, since=rag_since)"))
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=changed)
    contact = opened(hub, "GREEN")
    hub.advance(to="2026-11-23T13:00:00Z")
    hub.complete(contact, "early_help_research", immediate_risk=True)
    red = [d for d in hub.view(contact)["deadlines"] if d["name"] == "rag_timescale"][-1]
    assert (red["started_at"], red["due"]) == (instant("2026-11-23T13:00:00Z"),
                                               instant("2026-11-23T14:00:00Z"))
    hub.close()


def test_the_rag_timescale_is_written_only_in_the_decision_table() -> None:
    """Every RAG timescale deadline of every diagram fires at `rag_due`, which a business rule
    task running the decision `rag_timescale` sets in the same process; no diagram writes a
    timescale of its own."""
    timers = []
    for path in sorted(PROCESSES.glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for process in root.iterfind("bpmn:process", NS):
            runs = {t.get(f"{{{NS['camunda']}}}decisionRef")
                    for t in process.iterfind(".//bpmn:businessRuleTask", NS)}
            for timer in process.iterfind(".//bpmn:boundaryEvent", NS):
                names = {p.get("name"): p.get("value") for p in
                         timer.iterfind(".//camunda:property", NS)}
                if names.get("deadline") != "rag_timescale":
                    continue
                [value] = [v.text for v in timer.iterfind(".//bpmn:timeDate", NS)]
                timers.append((path.name, timer.get("id"), value, "rag_timescale" in runs))
            text = etree.tostring(process, encoding="unicode")
            for written in ("working_hours(4", "working_hours(16", "hours(72"):
                assert written not in text, (path.name, written)
    assert timers == [
        ("first_response.bpmn", "rag_timescale_due", "rag_due", True),
        ("missing_child.bpmn", "missing_rag_timescale_due", "rag_due", True)]


def test_mash_validate_says_where_the_rag_timescale_is(capsys: object) -> None:
    assert main(["validate", "--no-dry-run", str(PROCESSES)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    [line] = [line for line in out.splitlines() if line.startswith("decision ")]
    assert line.startswith("decision rag_timescale (") and line.endswith(
        "rag_timescale.dmn): run by first_response (decide_rag_due), "
        "missing_child (missing_decide_rag_due)")

