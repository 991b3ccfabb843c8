"""Issue 17: households and repeat contacts, through the real diagrams on the virtual clock.

A contact naming several children is one first response instance per child, linked by the
contact: each child screened, routed, decided and told on its own. The case records are read
for the whole family. A contact about a child whose contact is in progress is told to the
people working it and joined to it only when a manager decides so; one about a child whose
contact ended recently is flagged with that outcome. A near match goes to a person.

Late November 2026 is GMT: the instants are London times too. Hub Mon-Thu 08:30-17:15.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from engine import queries
from engine.service import FormRejected
from engine.store import notifications
from tests.pathways.harness import Hub
from tests.pathways.test_first_response import (
    MANAGER,
    MANAGERS_MAILBOX,
    POLICE_MAILBOX,
    at,
    brag,
    case_records,
    decide,
    open_tasks,
    open_the_contact,
    receive,
    sent,
    through_stage_3,
    took,
    verify,
)

BSIO = "Business Support Information Officer"
MASH_SW_MAILBOX = "mash.sw@bcp.invalid"
WORKER = "l.worker@bcp.invalid"
# Ellie is open to an Assessment Team; her little brother Toby is not known at all.
ELLIE_RECORD = {"child_id": "C510", "status": "open", "allocated_worker": "Lee Worker",
                "worker_email": WORKER, "team": "Assessment Team 1", "family": "F-STONE",
                "name": "Ellie Stone", "dob": "2015-07-14", "postcode": "BH8 8AA"}
ELLIE = {"id": "C510", "name": "Ellie Stone", "dob": "2015-07-14", "postcode": "BH8 8AA"}
TOBY = {"name": "Toby Stone", "dob": "2024-05-01", "postcode": "BH8 8AA"}
HOUSEHOLD = ("The children in the household were left alone overnight; the toddler has a burn "
             "on his hand that nobody has explained.")
NEIGHBOUR = {"name": "Jane Neighbour", "kind": "public", "email": "jane.n@home.invalid",
             "phone": "07700 900123"}


def history_of(hub: Hub, contact: str, element: str) -> dict[str, Any]:
    [changes] = [h["changes"] for h in hub.view(contact)["history"]
                 if h["element_id"] == element and h["action"] == "completed"]
    return dict(changes or {})


def notes(hub: Hub, contact: str) -> list[str]:
    with hub.store.reading() as conn:
        return [n["text"] for n in queries.another_contact_notes(conn, contact)]


def body(hub: Hub, contact: str, kind: str) -> str:
    """The first notification of that kind (the others are the same words to someone else)."""
    with hub.store.reading() as conn:
        row = conn.execute(sa.select(notifications.c.subject, notifications.c.body).where(
            notifications.c.instance_id == contact, notifications.c.kind == kind)
            .order_by(notifications.c.created_at)).first()
    assert row is not None
    return str(row.subject + "\n" + row.body)


# -- several children in one contact --------------------------------------------------------------


def test_siblings_one_open_to_social_care_and_one_unknown_are_each_screened_on_their_own(
        hub: Hub) -> None:
    case_records(hub, ELLIE_RECORD)
    hub.advance(to="2026-11-23T10:00:00Z")
    ellie, toby = hub.contact_about([ELLIE, TOBY], received_at=hub.now(), concerns=HOUSEHOLD)
    # Ellie is open with an allocated worker: the information goes to her worker (seed 002)
    assert open_tasks(hub, ellie) == [("forward", "Business Support Officer")]
    # the toddler named in the concerns is not forwarded with her: he is screened himself
    assert open_tasks(hub, toby) == [("verify", BSIO)]
    hub.advance(to="2026-11-23T10:20:00Z")
    hub.complete(ellie, "forward", case_note="Both children left alone overnight.")
    assert hub.view(ellie)["outcome"] == "forwarded_to_allocated_worker"
    assert sent(hub, ellie) == [("forward_to_allocated_worker", WORKER, at("2026-11-23T10:20:00Z"))]

    hub.advance(to="2026-11-23T11:00:00Z")
    [task] = hub.tasks(toby)  # the data his verification sees: his contact and his sister
    data = hub.engine.task_data(task["id"])
    assert (data["contact_id"], data["child_position"], data["child"]["name"]) == (
        ellie, 1, "Toby Stone")
    assert [(s["name"], s["instance_id"]) for s in data["siblings"]] == [("Ellie Stone", ellie)]
    verify(hub, toby, research="Not known; sister open to Assessment Team 1.")
    brag(hub, toby, rag="AMBER", threshold_level=3)
    through_stage_3(hub, toby, "AMBER", "s17")
    view = hub.view(toby)
    assert (view["outcome"], view["rag"], view["state"]) == ("s17", "AMBER", "completed")
    assert {d["name"]: d["met"] for d in view["deadlines"]} == {
        "decision": True, "rag_timescale": True, "referrer_outcome": True}
    # his own outcome letter, about him
    letter = body(hub, toby, "outcome_to_referrer")
    assert "Toby Stone" in letter and "Ellie" not in letter
    assert [k for k, _, _ in sent(hub, toby)] == ["outcome_to_referrer"]
    # one contact, two children, in the order the contact named them; not repeats of each other
    with hub.store.reading() as conn:
        assert queries.contact_id_of(conn, toby) == ellie
        assert queries.contact_members(conn, ellie) == [ellie, toby]
        assert queries.contact_links_of(conn, toby) == {"earlier": [], "later": []}


def test_a_contact_about_three_children_starts_them_together_or_not_at_all(hub: Hub) -> None:
    """The second child's start fails (the database, say): no child is started, no row kept."""
    from engine.store import contact_children, instances

    class Broken(Exception):
        pass

    original, calls = hub.engine._start, []

    def second_fails(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise Broken("the database went away")
        return original(*args, **kwargs)

    hub.engine._start = second_fails  # type: ignore[method-assign]
    with pytest.raises(Broken):
        hub.contact_about([ELLIE, TOBY, {"name": "Ada Stone", "dob": "2020-01-01"}])
    with hub.store.reading() as conn:
        for table in (instances, contact_children):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


# -- repeat contacts ------------------------------------------------------------------------------

RILEY = {"name": "Riley Moss", "dob": "2019-06-12", "postcode": "BH1 1AA"}


def test_three_contacts_about_one_child_in_a_day_join_the_assessment_in_progress(
        hub: Hub) -> None:
    first = receive(hub, "2026-11-23T10:00:00Z", child=RILEY)
    verify(hub, first)
    brag(hub, first, rag="AMBER", threshold_level=3)
    hub.advance(to="2026-11-23T11:00:00Z")
    open_the_contact(hub, first)  # AMBER: 16 working hours, due Wed 25 Nov 09:30
    hub.complete(first, "allocate_social_worker", social_worker="Bo Worker")
    assert open_tasks(hub, first) == [("assess_risk", "MASH Social Worker")]

    # a neighbour rings at 18:30: the people working the first contact hear at once
    second = receive(hub, "2026-11-23T18:30:00Z", child=RILEY, referrer=NEIGHBOUR,
                     concerns="Jane Neighbour hears shouting and Riley crying late every night.")
    assert sent(hub, first, "another_contact_received") == [
        ("another_contact_received", MANAGERS_MAILBOX, at("2026-11-23T18:30:00Z")),
        ("another_contact_received", MASH_SW_MAILBOX, at("2026-11-23T18:30:00Z"))]
    [note] = notes(hub, first)
    assert "shouting and Riley crying" in note and "Jane Neighbour" not in note  # seed 002
    told = body(hub, first, "another_contact_received")
    assert "shouting and Riley crying" in told and "Jane" not in told
    # the first contact's work goes on where it was, not interrupted
    assert open_tasks(hub, first) == [("assess_risk", "MASH Social Worker")]
    assert took(hub.view(first)["path"], "another_contact_received", "note_another_contact",
                "tell_working_it", "another_contact_end", "another_contact_sub")
    # the second is not a second parallel assessment: a manager decides
    assert open_tasks(hub, second) == [("join_decision", MANAGER)]
    assert took(hub.view(second)["path"], "repeat_gw", "tell_open_contact", "repeat_merge",
                "join_gw")
    hub.advance(to="2026-11-24T09:00:00Z")
    hub.complete(second, "join_decision", join="join",
                 join_reasons="The same concern: the MASH assessment is under way.")
    view = hub.view(second)
    assert (view["state"], view["outcome"]) == ("completed", "joined_to_open_contact")
    assert [(d["name"], d["met"]) for d in view["deadlines"]] == [("decision", True)]
    assert took(view["path"], "join_decision", "join_contact", "joined_gw", "joined_end")

    # the school, 25 hours after the first: an injury and a crime suspected
    third = receive(hub, "2026-11-24T11:00:00Z", child=RILEY, crime_suspected=True,
                    concerns="Riley arrived at school with a black eye and said his dad hit him.")
    assert sent(hub, third) == [("police_notification", POLICE_MAILBOX, at("2026-11-24T11:00:00Z"))]
    assert len(notes(hub, first)) == 2 and "a crime may have been committed" in notes(hub, first)[1]
    hub.complete(third, "join_decision", join="assess_separately",
                 join_reasons="A new injury and a disclosure: its own assessment.")
    assert open_tasks(hub, third) == [("verify", BSIO)]

    # the first contact goes on to its own decision, its rating and flags its own
    hub.complete(first, "assess_risk", strategy_discussion=False, share_with_partners=False)
    hub.complete(first, "draft_plans")
    decide(hub, first, "s47")
    view = hub.view(first)
    assert (view["outcome"], view["rag"], view["flags"]) == ("s47", "AMBER", [])
    with hub.store.reading() as conn:
        later = queries.contact_links_of(conn, first)["later"]
        assert [(link["instance_id"], link["kind"], link["decision"]) for link in later] == [
            (second, "in_progress", "joined"), (third, "in_progress", "assessed_separately")]
        assert queries.child_view(conn, second)["joined_to"] == first


def test_a_contact_joined_to_one_that_ended_meanwhile_is_assessed_after_all(hub: Hub) -> None:
    first = receive(hub, "2026-11-23T10:00:00Z", child=RILEY)
    second = receive(hub, "2026-11-23T10:30:00Z", child=RILEY)
    assert open_tasks(hub, second) == [("join_decision", MANAGER)]
    verify(hub, first, accepted=False)
    hub.complete(first, "nfa_oversight", nfa_confirmed=True)
    assert hub.view(first)["outcome"] == "nfa"
    hub.complete(second, "join_decision", join="join")
    assert open_tasks(hub, second) == [("verify", BSIO)]
    assert "joined_end" not in hub.view(second)["path"]


def test_a_contact_about_a_child_whose_contact_ended_recently_is_flagged_with_its_outcome(
        hub: Hub) -> None:
    first = receive(hub, "2026-11-23T10:00:00Z", child=RILEY)
    verify(hub, first, accepted=False)
    hub.complete(first, "nfa_oversight", nfa_confirmed=True)
    assert hub.view(first)["outcome"] == "nfa"

    second = receive(hub, "2026-12-07T10:00:00Z", child=RILEY)
    view = hub.view(second)
    assert view["flags"] == ["repeat_contact"]
    previous = history_of(hub, second, "look_up_case_records")["previous_contact"]
    assert (previous["instance_id"], previous["outcome"]) == (first, "nfa")
    assert open_tasks(hub, second) == [("verify", BSIO)]  # no join: nothing is in progress
    verify(hub, second, accepted=False)
    hub.complete(second, "nfa_oversight", nfa_confirmed=True)

    # more than three months after both ended: no longer flagged
    third = receive(hub, "2027-03-10T10:00:00Z", child=RILEY)
    assert hub.view(third)["flags"] == []
    with hub.store.reading() as conn:
        assert [(link["instance_id"], link["kind"]) for link in
                queries.contact_links_of(conn, second)["earlier"]] == [(first, "recent")]


# -- the family -----------------------------------------------------------------------------------

MIA_RECORD = {"child_id": "C700", "status": "closed", "closed_on": "2026-10-01",
              "allocated_worker": "P. Previous", "worker_email": "p.previous@bcp.invalid",
              "team": "Assessment Team 1", "family": "F-HART", "name": "Mia Hart",
              "dob": "2014-02-02"}
LEO_RECORD = {"child_id": "C701", "status": "closed", "closed_on": "2025-01-10",
              "team": "Early Help", "family": "F-HART", "name": "Leo Hart", "dob": "2017-09-09"}


def test_a_re_referral_and_the_previous_worker_are_found_across_the_family(hub: Hub) -> None:
    case_records(hub, MIA_RECORD, LEO_RECORD)
    # Leo's own case closed nearly two years ago; his sister Mia's seven weeks ago (seed 001:
    # 're-referral ... for a child/family'; seed 003: 'the family have had social worker
    # involvement within the past 12 weeks')
    leo = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C701", "postcode": "BH1 1AA"})
    assert hub.view(leo)["flags"] == ["re_referral"]
    looked = history_of(hub, leo, "look_up_case_records")
    assert (looked["family"], looked["previous_worker"]) == ("F-HART", "P. Previous")
    verify(hub, leo)
    brag(hub, leo, rag="AMBER")
    through_stage_3(hub, leo, "AMBER", "s17")
    assert ("previous_worker_reengagement", "p.previous@bcp.invalid") in [
        (k, to) for k, to, _ in sent(hub, leo)]


def test_a_new_baby_is_screened_with_the_family_of_the_siblings_named_with_it(hub: Hub) -> None:
    case_records(hub, MIA_RECORD)
    mia, baby = hub.contact_about(
        [{"id": "C700", "name": "Mia Hart"}, {"name": "Baby Hart", "dob": "2026-11-01"}],
        received_at="2026-11-23T10:00:00Z")
    assert hub.view(baby)["flags"] == ["re_referral"]
    assert history_of(hub, baby, "look_up_case_records")["family"] == "F-HART"
    assert hub.view(mia)["flags"] == ["re_referral"]


def test_a_child_of_no_known_family_is_no_re_referral(hub: Hub) -> None:
    case_records(hub, MIA_RECORD)
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"name": "Ola Hart", "dob": "2016-05-05"})
    assert hub.view(contact)["flags"] == []


# -- matching -------------------------------------------------------------------------------------

JAYDEN_RECORD = {"child_id": "C800", "status": "open", "allocated_worker": "Lee Worker",
                 "worker_email": WORKER, "team": "Assessment Team 1", "name": "Jayden Smith",
                 "dob": "2016-02-03", "postcode": "BH8 8AA"}


@pytest.mark.parametrize("named", [
    {"name": "Jayden Smith", "dob": "2016-02-03", "postcode": "BH8 8AA"},
    {"name": "  JAYDEN   smith ", "dob": "2016-02-03", "postcode": "bh8 8aa"},
    {"name": "Jayden Smith", "dob": "2016-02-03", "id": "C800"},
])
def test_a_child_named_as_in_the_case_records_is_that_child(hub: Hub,
                                                            named: dict[str, str]) -> None:
    case_records(hub, JAYDEN_RECORD)
    contact = receive(hub, "2026-11-23T10:00:00Z", child=named)
    assert open_tasks(hub, contact) == [("forward", "Business Support Officer")]
    assert history_of(hub, contact, "look_up_case_records")["near_match"] is None


@pytest.mark.parametrize(("named", "why"), [
    ({"name": "Jaydon Smith", "dob": "2016-02-03"}, "a name spelt a little differently"),
    ({"name": "Jayden Smith", "dob": "2016-02-04"}, "a date of birth a day out"),
    ({"name": "Jayden Smith", "dob": "2016-03-02"}, "day and month swapped"),
    ({"name": "Jayden Smith", "dob": "2016-02-03", "postcode": "DT1 1AA"}, "another postcode"),
])
@pytest.mark.parametrize("same", [True, False])
def test_a_near_match_goes_to_a_person_and_is_never_merged_silently(
        hub: Hub, named: dict[str, str], why: str, same: bool) -> None:
    case_records(hub, JAYDEN_RECORD)
    contact = receive(hub, "2026-11-23T10:00:00Z", child=named)
    [task] = hub.tasks(contact)
    assert (task["element_id"], task["role"]) == ("confirm_match", BSIO)
    near = history_of(hub, contact, "look_up_case_records")["near_match"]
    assert (near["source"], near["child_id"], near["name"]) == ("case_record", "C800",
                                                               "Jayden Smith")
    assert why in near["why"]
    with pytest.raises(FormRejected) as refused:  # nothing is assumed: a person says which
        hub.complete(contact, "confirm_match")
    assert [e["field"] for e in refused.value.errors] == ["same_child"]
    hub.complete(contact, "confirm_match", same_child=same, match_notes="Checked with school.")
    if same:  # the child of the record: open with a worker, so forwarded
        assert open_tasks(hub, contact) == [("forward", "Business Support Officer")]
        assert history_of(hub, contact, "apply_match")["child"]["id"] == "C800"
    else:  # two children: this one is screened as unknown
        assert open_tasks(hub, contact) in ([("verify", BSIO)], [("redirect", BSIO)])
        with hub.store.reading() as conn:
            assert queries.child_view(conn, contact)["child"]["id"] is None


def test_a_red_contact_confirmed_as_a_child_with_a_worker_tells_the_worker_at_once(
        hub: Hub) -> None:
    case_records(hub, JAYDEN_RECORD)
    contact = receive(hub, "2026-11-23T10:00:00Z", immediate_risk=True,
                      child={"name": "Jaydon Smith", "dob": "2016-02-03"})
    assert sent(hub, contact) == []  # not yet known to be his: nobody to tell
    hub.advance(to="2026-11-23T10:10:00Z")
    hub.complete(contact, "confirm_match", same_child=True)
    assert sent(hub, contact) == [("forward_to_allocated_worker", WORKER,
                                   at("2026-11-23T10:10:00Z"))]
    assert open_tasks(hub, contact) == [("brag", MANAGER)]  # RED: straight to a manager
    assert took(hub.view(contact)["path"], "apply_match", "tell_allocated_worker", "worker_told",
                "match_concerns")


def test_a_near_match_to_a_contact_in_progress_is_told_once_a_person_confirms_it(
        hub: Hub) -> None:
    first = receive(hub, "2026-11-23T10:00:00Z", child={"name": "Ava Hart", "dob": "2018-03-04"})
    second = receive(hub, "2026-11-23T10:30:00Z", child={"name": "Eva Hart", "dob": "2018-03-04"})
    assert notes(hub, first) == []  # a near match: not told until a person says so
    near = history_of(hub, second, "look_up_case_records")["near_match"]
    assert (near["source"], near["instance_id"]) == ("contact", first)
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(second, "confirm_match", same_child=True)
    assert len(notes(hub, first)) == 1
    assert open_tasks(hub, second) == [("join_decision", MANAGER)]
    assert took(hub.view(second)["path"], "matched_gw", "tell_matched_contact", "matched_merge",
                "near_merge", "join_gw")


def test_the_retention_schedule_removes_who_the_child_was_from_matching(hub: Hub) -> None:
    from datetime import timedelta

    from engine.retention import Schedule, apply
    from engine.store import contact_children

    first = receive(hub, "2026-11-23T10:00:00Z", child={**RILEY, "id": "C900"})
    verify(hub, first, accepted=False)
    hub.complete(first, "nfa_oversight", nfa_confirmed=True)
    with hub.store.transaction() as conn:  # its letter sent, as the mailer marks it
        conn.execute(notifications.update().where(notifications.c.instance_id == first)
                     .values(sent_at=hub.now(), attempts=1))
    done = apply(hub.store, Schedule(default_years=1), hub.now() + timedelta(days=370))
    assert first in [d.instance_id for d in done.due]
    with hub.store.reading() as conn:
        row = conn.execute(sa.select(contact_children).where(
            contact_children.c.instance_id == first)).one()
    assert (row.child_id, row.name, row.dob, row.postcode) == (None, None, None, None)
    # and a contact about the same child later is not matched to the anonymised one
    later = receive(hub, "2027-12-01T10:00:00Z", child=RILEY)
    assert history_of(hub, later, "look_up_case_records")["previous_contact"] is None
