"""`mash simulate` with households and repeat contacts (issue 17): a contact naming siblings
reports each child's result (the first child's as before), case records carry a family,
repeat contacts are joined or assessed as the answers say, and `--generate` makes sibling
groups and repeat contacts in the shares its docstring gives."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import date
from typing import Any

import pytest

from engine.simulation.generate import REPEAT_IN_PROGRESS, REPEAT_RECENT, SIBLINGS, generate
from engine.simulation.parallel import report as simulate
from engine.simulation.parallel import split
from engine.simulation.scenario import ScenarioError, build
from tests.pathways.harness import PROCESSES

ANSWERS = {"accepted": True, "rag": "AMBER", "consent_decision": "confirmed",
           "threshold_level": 3, "social_worker": "B. Worker", "strategy_discussion": False,
           "outcome": "s17", "join": "join", "same_child": False}
ELLIE = {"id": "C510", "name": "Ellie Stone", "dob": "2015-07-14", "postcode": "BH8 8AA"}
TOBY = {"name": "Toby Stone", "dob": "2024-05-01", "postcode": "BH8 8AA"}
RILEY = {"name": "Riley Moss", "dob": "2019-06-12", "postcode": "BH1 1AA"}
RECORDS = [
    {"child_id": "C510", "status": "open", "allocated_worker": "Lee Worker",
     "team": "Assessment Team 1", "family": "F-STONE", "name": "Ellie Stone",
     "dob": "2015-07-14", "postcode": "BH8 8AA"},
    {"child_id": "C700", "status": "closed", "closed_on": "2026-10-01",
     "allocated_worker": "P. Previous", "team": "Assessment Team 1", "family": "F-HART"},
    {"child_id": "C701", "status": "closed", "closed_on": "2025-01-10", "team": "Early Help",
     "family": "F-HART"},
]


def contact(contact_id: str, received_at: str, answers: dict[str, Any] | None = None,
            **fields: Any) -> dict[str, Any]:
    body = {"channel": "email", "concerns": "A concern about the children.",
            "referrer": {"name": "Sam Teacher", "kind": "professional", "agency": "School",
                         "email": "s.teacher@school.invalid"}, **fields}
    return {"id": contact_id, "received_at": received_at, "contact": body,
            "answers": {**ANSWERS, **(answers or {})}}


def scenario(*contacts: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1, "start": "2026-11-23T08:00:00Z",
            "case_records": copy.deepcopy(RECORDS), "contacts": list(contacts)}


def test_a_contact_naming_siblings_reports_each_childs_own_result() -> None:
    siblings = contact("siblings", "2026-11-23T10:00:00Z", children=[ELLIE, TOBY])
    siblings["child_answers"] = [{}, {"rag": "RED", "threshold_level": 4, "outcome": "s47"}]
    report = simulate(build(scenario(siblings), "test"), PROCESSES)
    [found] = report["contacts"]
    ellie, toby = found["children"]
    assert (ellie["child"], ellie["outcome"]) == (0, "forwarded_to_allocated_worker")
    assert (toby["child"], toby["outcome"], toby["rag"]) == (1, "s47", "RED")
    # today's fields are the first child's, so today's readers keep working
    assert (found["outcome"], found["path"]) == (ellie["outcome"], ellie["path"])
    assert {d["name"] for d in toby["deadlines"]} == {"decision", "rag_timescale",
                                                      "referrer_outcome"}
    summary = report["summary"]
    assert (summary["contacts"], summary["children"]) == (1, 2)
    assert summary["outcomes"] == {"forwarded_to_allocated_worker": 1}
    assert summary["children_outcomes"] == {"forwarded_to_allocated_worker": 1, "s47": 1}


def test_three_contacts_about_one_child_in_a_day_are_joined_or_assessed_as_answered() -> None:
    school = contact("school", "2026-11-23T10:00:00Z", child=RILEY)
    # each step an hour, the MASH risk assessment 12 working hours: in progress until Tuesday
    school["work_time"] = {"default": "PT1H", "MASH Social Worker": "PT12H"}
    report = simulate(build(scenario(
        school,
        contact("police", "2026-11-23T18:30:00Z", child=RILEY),
        contact("health", "2026-11-24T11:00:00Z", {"join": "assess_separately"}, child=RILEY),
    ), "test"), PROCESSES)
    by_id = {c["id"]: c for c in report["contacts"]}
    assert by_id["school"]["outcome"] == "s17"
    assert by_id["police"]["outcome"] == "joined_to_open_contact"
    assert by_id["health"]["outcome"] == "s17"  # its own assessment, as the manager decided
    kinds = Counter(n["kind"] for n in by_id["school"]["notifications"])
    assert kinds["another_contact_received"] == 4  # two contacts, to two roles each
    assert "join_decision" in by_id["health"]["path"]


def test_case_records_carry_a_family_for_the_re_referral() -> None:
    report = simulate(build(scenario(
        contact("leo", "2026-11-23T10:00:00Z", child={"id": "C701", "name": "Leo Hart",
                                                        "postcode": "BH1 1AA"}),
    ), "test"), PROCESSES)
    [leo] = report["contacts"]
    assert leo["flags"] == ["re_referral"]  # his sister C700 closed seven weeks before
    assert "previous_worker_reengagement" in [n["kind"] for n in leo["notifications"]]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["contacts"][0].update(child_answers=[{}, {}, {}]),
     "child_answers has 3 entries but the contact names 2 child(ren)"),
    (lambda d: d["contacts"][0].update(child_answers=[{"colour": "red"}]),
     "child_answers.colour is not a field of any task"),
    (lambda d: d["case_records"].append({"child_id": "C9", "status": "closed",
                                         "dob": "2015-02-30"}),
     "case_records[3]: dob must be a date, YYYY-MM-DD"),
    (lambda d: d["contacts"][0]["contact"].update(child=RILEY),
     "contact.children give child (one) or children (a list), not both"),
])
def test_a_scenario_with_a_household_mistake_is_refused_saying_where(change: Any,
                                                                    message: str) -> None:
    document = scenario(contact("siblings", "2026-11-23T10:00:00Z", children=[ELLIE, TOBY]))
    change(document)
    with pytest.raises(ScenarioError) as refused:
        build(document, "test", known_answers={*ANSWERS, "reasons"})
    assert message in str(refused.value)


def test_generated_scenarios_have_sibling_groups_and_repeat_contacts_in_their_shares() -> None:
    document = generate(2000, seed=11, start=date(2026, 9, 7), days=70)
    named = Counter(len(c["contact"].get("children") or [None]) for c in document["contacts"])
    for count, share in SIBLINGS:
        found = named[count] / 2000
        repeats = REPEAT_IN_PROGRESS + REPEAT_RECENT  # a repeat names one child
        expected = share * (1 - repeats) + (repeats if count == 1 else 0)
        assert abs(found - expected) < 0.03, (count, found, expected)
    seen: set[tuple[str, str]] = set()
    again = 0
    for item in document["contacts"]:
        for child in item["contact"].get("children") or [item["contact"]["child"]]:
            key = (child["name"], child["dob"])
            again += key in seen
            seen.add(key)
    assert 0.09 < again / 2000 < 0.15  # 5% in progress and 8% recent, less the first days
    families = Counter(r["family"] for r in document["case_records"] if "family" in r)
    assert families and all(n >= 1 for n in families.values())
    assert generate(50, seed=11, start=date(2026, 9, 7), days=7) == \
        generate(50, seed=11, start=date(2026, 9, 7), days=7)


def test_a_generated_scenario_with_households_runs_to_its_end() -> None:
    document = generate(120, seed=5, start=date(2026, 11, 23), days=4)
    report = simulate(build(copy.deepcopy(document), "generated"), PROCESSES)
    summary = report["summary"]
    assert summary["contacts"] == 120 and summary["children"] > 120
    assert summary["children_outcomes"].get("joined_to_open_contact", 0) >= 1
    assert "none" not in summary["children_outcomes"]


def test_contacts_about_the_same_child_run_in_one_shard() -> None:
    document = scenario(
        contact("a", "2026-11-23T10:00:00Z", child=RILEY),
        contact("b", "2026-11-23T11:00:00Z", child={"name": "Other Child", "dob": "2018-01-01"}),
        contact("c", "2026-11-23T12:00:00Z", children=[TOBY, {**RILEY, "name": "RILEY MOSS"}]),
        contact("d", "2026-11-23T13:00:00Z", child=TOBY),
        contact("e", "2026-11-23T14:00:00Z", child=ELLIE),
        contact("f", "2026-11-23T15:00:00Z", child={"id": "C510"}),
    )
    parts = split(build(document, "test"), 3)
    shard = {c.id: n for n, part in enumerate(parts) for c in part.contacts}
    assert shard["a"] == shard["c"] == shard["d"]  # Riley (any case), and Toby with him
    assert shard["e"] == shard["f"]  # the same case record id
    assert len({shard["a"], shard["b"]}) == 2  # others spread as before
