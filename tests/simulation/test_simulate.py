"""`mash simulate`: a scenario with every outcome of docs/scenarios.md run through the real
diagrams, the report checked field by field; errors that name contact, task and field;
the generator, the comparison and the HTML report.

Instants are UTC; the comments give the London time and how each was worked out (Hub hours
Mon–Thu 08:30–17:15, Fri 08:30–16:45, GMT in late November)."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.simulation.generate import generate
from engine.simulation.parallel import report as simulate
from engine.simulation.parallel import split
from engine.simulation.present import differences, html_report
from engine.simulation.scenario import ScenarioError, build, parse
from tests.pathways.harness import PROCESSES

HERE = Path(__file__).parent
SCENARIO = json.loads((HERE / "scenario_all_outcomes.json").read_text())


def run(document: dict[str, Any]) -> dict[str, Any]:
    return simulate(build(document, "test"), PROCESSES)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run(SCENARIO)


def contact(report: dict[str, Any], contact_id: str) -> dict[str, Any]:
    return next(c for c in report["contacts"] if c["id"] == contact_id)


def deadlines(item: dict[str, Any]) -> dict[str, tuple[str | None, str | None, bool | None]]:
    return {d["name"]: (d["due"], d["done_at"], d["met"]) for d in item["deadlines"]}


def sent(item: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((n["kind"], n["to"], n["sent_at"]) for n in item["notifications"])


def test_the_scenario_md_example_contact_field_by_field(report: dict[str, Any]) -> None:
    c1 = contact(report, "c1")
    assert c1["outcome"] == "s47" and c1["rag"] == "RED" and c1["flags"] == []
    assert c1["received_at"] == "2026-11-27T15:00:00Z"
    # Fri 15:00 + every task at once but three MASH Social Worker tasks of 3 working hours:
    # Fri 15:00-16:45 (1h45) + Mon 08:30-09:45; then 12:45; then 15:45 Mon 30 Nov.
    assert c1["ended_at"] == "2026-11-30T15:45:00Z"
    assert c1["deadlines"] == [
        # working_days(1) from Fri: Mon 30 Nov's closing, 17:15
        {"name": "decision", "started_at": "2026-11-27T15:00:00Z",
         "due": "2026-11-30T17:15:00Z", "done_at": "2026-11-27T15:00:00Z", "met": True},
        # RED 4 working hours from Fri 15:00: 1h45 on Friday, 2h15 on Monday -> 10:45
        {"name": "rag_timescale", "started_at": "2026-11-27T15:00:00Z",
         "due": "2026-11-30T10:45:00Z", "done_at": "2026-11-30T15:45:00Z", "met": False},
        # working_days(5) from Fri 27: Mon 30, Tue 1, Wed 2, Thu 3, Fri 4 Dec -> 16:45
        {"name": "referrer_outcome", "started_at": "2026-11-27T15:00:00Z",
         "due": "2026-12-04T16:45:00Z", "done_at": "2026-11-30T15:45:00Z", "met": True},
    ]
    assert sent(c1) == [
        ("deadline_breach", "mash.managers@bcp.invalid", "2026-11-30T10:45:00Z"),
        # a referrer with no email gets a letter: to Business Support to post
        ("outcome_to_referrer", "business.support@bcp.invalid", "2026-11-30T15:45:00Z"),
    ]
    path = c1["path"]
    for element in ("verify", "brag", "open_contact_task", "allocate_social_worker",
                    "assess_risk", "hold_strategy_discussion", "draft_plans", "decision",
                    "tell_referrer", "s47_end"):
        assert element in path
    assert path.index("brag") < path.index("open_contact_task") < path.index("decision")


def test_the_front_door_outcomes(report: dict[str, Any]) -> None:
    redirect = contact(report, "redirect")
    assert redirect["outcome"] == "redirected"
    assert sent(redirect) == [("redirect_to_local_authority", "childrens.advice@dorset.invalid",
                               "2026-11-23T09:00:00Z")]  # BH19 is wholly Dorset Council
    forward = contact(report, "forward")
    assert forward["outcome"] == "forwarded_to_allocated_worker"
    # the case record has no email for the worker: to the team's business support
    assert sent(forward) == [("forward_to_allocated_worker", "at2.bs@bcp.invalid",
                              "2026-11-23T09:10:00Z")]
    nfa = contact(report, "nfa")
    assert nfa["outcome"] == "nfa"
    assert sent(nfa) == [("nfa_to_referrer", "n@home.invalid", "2026-11-23T09:20:00Z")]
    blue = contact(report, "blue")
    assert blue["outcome"] == "information_shared"
    assert sent(blue) == [("information_to_requester", "b@police.invalid", "2026-11-23T09:30:00Z")]
    for item in (redirect, forward, nfa, blue):
        assert item["rag"] is None
        [decision] = item["deadlines"]  # the other deadlines are never started: absent
        assert decision["name"] == "decision" and decision["met"] is True
        assert decision["due"] == "2026-11-24T17:15:00Z"  # Mon -> Tue's closing


def test_a_missing_child_with_a_worker_is_reported_to_each_recipient(report: dict[str, Any]) -> None:
    missing = contact(report, "missing")
    assert missing["outcome"] == "missing_forwarded"
    assert sent(missing) == sorted(("missing_person_report", to, "2026-11-23T09:40:00Z") for to in (
        "m.worker@bcp.invalid", "at1.manager@bcp.invalid", "at1.atm@bcp.invalid",
        "at1.bs@bcp.invalid", "ce.missing.tm@bcp.invalid"))


def test_the_management_decisions(report: dict[str, Any]) -> None:
    s17 = contact(report, "s17")
    assert (s17["outcome"], s17["rag"], s17["flags"]) == ("s17", "AMBER", ["re_referral"])
    assert deadlines(s17) == {
        "decision": ("2026-11-25T17:15:00Z", "2026-11-24T10:00:00Z", True),
        # AMBER 16 working hours from Tue 10:00: 7h15 Tue + 8h45 Wed = Wed's closing
        "rag_timescale": ("2026-11-25T17:15:00Z", "2026-11-24T10:00:00Z", True),
        "referrer_outcome": ("2026-12-01T17:15:00Z", "2026-11-24T10:00:00Z", True)}
    # closed on 1 Oct with a worker: within 12 weeks, so the previous worker is asked back
    assert ("previous_worker_reengagement", "business.support@bcp.invalid",
            "2026-11-24T10:00:00Z") in sent(s17)
    early = contact(report, "early_help")
    assert (early["outcome"], early["rag"]) == ("early_help", "GREEN")
    # GREEN 72 hours from Tue 11:00; the Early Help Hub's 10 working hours end Wed 12:15
    assert deadlines(early)["rag_timescale"] == ("2026-11-27T11:00:00Z", "2026-11-25T12:15:00Z", True)
    assert contact(report, "signpost")["outcome"] == "signpost"
    advice = contact(report, "advice")
    assert advice["outcome"] == "advice"
    assert ("police_notification", "mash.police@dorset.police.invalid",
            "2026-11-24T12:00:00Z") in sent(advice)
    # AMBER from Tue 12:00: 5h15 Tue + 8h45 Wed + 2h Thu -> Thu 10:30
    assert deadlines(advice)["rag_timescale"][0] == "2026-11-26T10:30:00Z"


def test_a_red_contact_at_night_alerts_out_of_hours(report: dict[str, Any]) -> None:
    red = contact(report, "red_at_night")
    assert (red["outcome"], red["rag"], red["flags"]) == ("s47", "RED", ["immediate_risk"])
    assert ("out_of_hours_alert", "ChildrensOOHS@bcp.invalid", "2026-11-28T02:00:00Z") in sent(red)
    # Saturday: the clocks start Monday. decision: Tue's closing; RED: Mon 08:30 + 4h
    assert deadlines(red)["decision"][0] == "2026-12-01T17:15:00Z"
    assert deadlines(red)["rag_timescale"][0] == "2026-11-30T12:30:00Z"
    assert deadlines(red)["referrer_outcome"][0] == "2026-12-07T17:15:00Z"


def test_a_ppn_waits_for_the_next_meeting_and_takes_its_rating(report: dict[str, Any]) -> None:
    ppn = contact(report, "ppn")
    # received Mon 11:00, after Monday's 10:00 meeting: rated at Tuesday's, AMBER
    assert (ppn["outcome"], ppn["rag"]) == ("s17", "AMBER")
    assert ppn["ended_at"] == "2026-11-24T10:00:00Z"
    assert deadlines(ppn)["decision"] == ("2026-11-24T17:15:00Z", "2026-11-24T10:00:00Z", True)
    assert "await_ppn_meeting" in ppn["path"] and "brag" not in ppn["path"]


def test_disagreements_every_outcome_and_missed_stages(report: dict[str, Any]) -> None:
    by_id = {d["id"]: d for d in report["disagreements"]}
    d1 = by_id["d1"]
    assert d1["outcome"] == "resolved_stage_2"
    # stage 1 from Mon 10:00, answered after 20 working hours: Wed 12:30; stage 2 +4h
    assert deadlines(d1) == {
        "stage_1_response": ("2026-11-30T17:15:00Z", "2026-11-25T12:30:00Z", True),
        "stage_2_response": ("2026-12-02T17:15:00Z", "2026-11-25T16:30:00Z", True)}
    assert sent(d1) == [("escalation_notice", "service.managers@bcp.invalid", "2026-11-25T12:30:00Z"),
                        ("escalation_notice", "team.managers@bcp.invalid", "2026-11-23T10:00:00Z")]
    silent = by_id["d_partnership"]
    assert silent["outcome"] == "partnership"
    # each stage that never answers breaches at its closing time; the next starts the
    # next working morning: Mon 30 Nov, Tue 8 Dec, Wed 16 Dec
    assert deadlines(silent) == {
        "stage_1_response": ("2026-11-30T17:15:00Z", None, False),
        "stage_2_response": ("2026-12-08T17:15:00Z", None, False),
        "stage_3_response": ("2026-12-16T17:15:00Z", None, False)}
    assert ("escalation_notice", "partnership@pdscp.invalid", "2026-12-16T17:15:00Z") in sent(silent)
    assert by_id["d_stage_1"]["outcome"] == "resolved_stage_1"
    assert by_id["d_stage_3"]["outcome"] == "resolved_stage_3"


def test_the_summary(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert summary["contacts"] == 12 and summary["disagreements"] == 4
    assert summary["outcomes"] == {
        "advice": 1, "early_help": 1, "forwarded_to_allocated_worker": 1,
        "information_shared": 1, "missing_forwarded": 1, "nfa": 1, "redirected": 1,
        "s17": 2, "s47": 2, "signpost": 1}
    assert summary["deadlines"]["rag_timescale"] == {"met": 6, "breached": 1}
    assert summary["deadlines_by_rag"]["RED"]["rag_timescale"] == {"met": 1, "breached": 1}
    assert summary["disagreement_outcomes"] == {"partnership": 1, "resolved_stage_1": 1,
                                                "resolved_stage_2": 1, "resolved_stage_3": 1}
    assert summary["time_in_step"]["Early Help Hub"]["max_working_minutes"] == 600.0
    assert report["format"] == 1


def failing(change: Any) -> str:
    document = copy.deepcopy(SCENARIO)
    document["contacts"] = [c for c in document["contacts"] if c["id"] == "c1"]
    document["disagreements"] = []
    change(document)
    with pytest.raises(ScenarioError) as err:
        run(document)
    return str(err.value)


def test_an_answer_missing_for_a_field_names_contact_task_and_field() -> None:
    message = failing(lambda d: d["contacts"][0]["answers"].pop("social_worker"))
    assert message == ("contact c1: task 'Allocate to a MASH Social Worker in the Pod' "
                       "(allocate_social_worker) asks for 'social_worker', which its answers "
                       "do not give")


def test_an_answer_the_form_refuses_names_contact_task_and_field() -> None:
    message = failing(lambda d: d["contacts"][0]["answers"].update(
        consent_decision="overridden", threshold_level=4))
    assert message.startswith("contact c1: task 'BRAG")
    assert "refused 'consent_override_reasons': is required" in message


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(colour="red"), "unknown field 'colour'"),
    (lambda d: d["contacts"][0].update(received_at="Friday"), "contact c1: received_at: 'Friday'"),
    (lambda d: d["contacts"][0].update(received_at="2026-11-27T15:00:00"), "has no offset"),
    (lambda d: d["contacts"][0]["contact"].update(channel="fax"), "contact c1: contact.channel"),
    (lambda d: d["contacts"][0]["work_time"].update(default="3 hours"), "work_time.default"),
    (lambda d: d["contacts"][0].update(mood="calm"), "contacts[0]: unknown field 'mood'"),
    (lambda d: d.update(format=2), "format must be 1"),
])
def test_scenario_errors_name_where(change: Any, expected: str) -> None:
    document = copy.deepcopy(SCENARIO)
    change(document)
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        build(document, "s.json")


def test_yaml_is_read_as_well_as_json() -> None:
    import yaml

    scenario = parse(yaml.safe_dump(SCENARIO), "s.yaml")
    assert [c.id for c in scenario.contacts][:2] == ["c1", "redirect"]


def test_the_generator_is_realistic_and_repeatable() -> None:
    first = generate(400, 7, date(2026, 11, 23), 14)
    assert first == generate(400, 7, date(2026, 11, 23), 14)
    assert first != generate(400, 8, date(2026, 11, 23), 14)
    scenario = build(first, "generated")
    assert len(scenario.contacts) == 400 and len(scenario.disagreements) == 4
    channels = {c.contact["channel"] for c in scenario.contacts}
    assert channels == {"email", "phone", "portal", "ppn"}
    weekday = sum(1 for c in scenario.contacts if c.received_at.weekday() < 5)
    assert weekday / 400 > 0.8  # most contacts arrive on weekdays
    postcodes = [c.contact["child"].get("postcode", "") for c in scenario.contacts]
    assert any(p.startswith(("DT", "SO", "SP", "BH19", "BH20", "BH25")) for p in postcodes)
    assert any(c.contact["missing"] for c in scenario.contacts)
    assert any(r["status"] == "closed" for r in scenario.case_records)


def test_shards_keep_a_disagreement_with_its_contact() -> None:
    scenario = build(SCENARIO, "s")
    parts = split(scenario, 3)
    assert sum(len(p.contacts) for p in parts) == 12
    home = next(i for i, p in enumerate(parts) if any(c.id == "c1" for c in p.contacts))
    assert any(d.id == "d1" for d in parts[home].disagreements)


def test_html_and_comparison(report: dict[str, Any], tmp_path: Path) -> None:
    page = html_report(report)
    assert page.startswith("<!doctype html>") and "<svg" in page and "rag_timescale" in page
    assert "http" not in page.split("<body>")[1]  # self-contained: nothing fetched
    other = copy.deepcopy(report)
    other["contacts"][0]["outcome"] = "s17"
    assert differences(report, other) == [{"id": "c1", "what": "outcome s47 -> s17"}]


def test_the_command_prints_json_and_refuses_a_bad_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = copy.deepcopy(SCENARIO)
    document["contacts"] = document["contacts"][1:3]
    document["disagreements"] = []
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document))
    assert main(["simulate", str(path), "--json", "--html", str(tmp_path / "r.html")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [c["outcome"] for c in printed["contacts"]] == ["redirected",
                                                           "forwarded_to_allocated_worker"]
    assert (tmp_path / "r.html").exists()
    path.write_text('{"format": 1, "start": "yesterday"}')
    assert main(["simulate", str(path)]) == 1
    assert "start: 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err
