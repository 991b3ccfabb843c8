"""Timescales and windows are settings in the diagrams, changed with no Python: the same
contact, with the diagram's re-referral window and RED timescale changed."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.pathways.harness import PROCESSES, Hub, instant

CLOSED = [{"child_id": "C7", "status": "closed", "closed_on": "2026-09-10",
           "allocated_worker": "P. Previous", "team": "Early Help"}]


def processes_with(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    diagram = folder / "first_response.bpmn"
    text = diagram.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    diagram.write_text(text)
    return folder


def red_contact(hub: Hub) -> str:
    contact = hub.contact(received_at="2026-11-23T10:00:00Z",
                          child={"id": "C7", "name": "Sam", "postcode": "BH1 1AA"})
    hub.complete(contact, "verify", accepted=True)
    hub.complete(contact, "brag", rag="RED", consent_decision="confirmed", threshold_level=4)
    hub.complete(contact, "open_contact_task")
    return contact


def test_the_diagrams_settings_change_what_the_engine_does(database_url: str,
                                                           tmp_path: Path) -> None:
    as_drawn = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=PROCESSES,
                   case_records=CLOSED)
    contact = red_contact(as_drawn)
    # closed 10 Sep: within 3 months of 23 Nov; RED: 4 working hours from Mon 10:00
    assert as_drawn.view(contact)["flags"] == ["re_referral"]
    assert as_drawn.deadline(contact, "rag_timescale")["due"] == instant("2026-11-23T14:00:00Z")
    as_drawn.close()

    changed = processes_with(
        tmp_path,
        ('<camunda:property name="re_referral_months" value="3" />',
         '<camunda:property name="re_referral_months" value="2" />'),
        ('working_hours(4, since=rag_since) if rag == "RED"',
         'working_hours(2, since=rag_since) if rag == "RED"'))
    other = Hub(database_url.replace(".sqlite", "-2.sqlite") if database_url.startswith("sqlite")
                else database_url, start="2026-11-23T10:00:00+00:00", processes=changed,
                case_records=CLOSED)
    contact = red_contact(other)
    assert other.view(contact)["flags"] == []  # 10 Sep is more than 2 months before
    assert other.deadline(contact, "rag_timescale")["due"] == instant("2026-11-23T12:00:00Z")
    other.close()
