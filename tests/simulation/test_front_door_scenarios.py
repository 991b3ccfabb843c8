"""`mash simulate` on the scenarios of issue 14: a declined information request returns, answers
that would loop for ever stop the run naming the contact and the task, and a contact about a
child in Dorset runs with the authority the postcode names (prefilled, so a scenario need not
answer it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.simulation.parallel import report as simulate
from engine.simulation.scenario import ScenarioError, build
from tests.pathways.harness import PROCESSES


def scenario(*contacts: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1, "start": "2026-11-23T08:00:00Z", "contacts": list(contacts)}


def contact(contact_id: str, answers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"channel": "email", "concerns": "A request or a concern.",
            "referrer": {"name": "DC Sam Lee", "kind": "professional", "agency": "Dorset Police",
                         "email": "s.lee@dorset.police.invalid"},
            "child": {"name": "Child", "postcode": "BH8 9AA"}, **fields}
    return {"id": contact_id, "received_at": "2026-11-23T09:30:00Z", "contact": body,
            "answers": answers}


DECLINED = scenario(contact("declined", {"accepted": True, "approved": False,
                                         "reasons": "No lawful basis given."},
                            information_request=True))


def test_a_declined_information_request_ends_and_the_requester_is_told() -> None:
    [declined] = simulate(build(DECLINED, "test"), PROCESSES)["contacts"]
    assert declined["outcome"] == "information_declined"
    assert [(n["kind"], n["to"]) for n in declined["notifications"]] == [
        ("information_declined", "s.lee@dorset.police.invalid")]


def test_the_command_returns_on_a_declined_request(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "declined.json"
    path.write_text(json.dumps(DECLINED))
    assert main(["simulate", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["summary"]["outcomes"] == {"information_declined": 1}


def test_answers_that_send_a_contact_round_a_loop_for_ever_stop_the_run_naming_it() -> None:
    # oversight always sends it back to be changed, and Business Support always collates the
    # same: the request would go round for ever
    looping = scenario(contact("round", {"accepted": True, "approved": False, "send_back": True,
                                         "reasons": "Take the sibling out."},
                               information_request=True))
    with pytest.raises(ScenarioError) as stopped:
        simulate(build(looping, "test"), PROCESSES)
    message = str(stopped.value)
    assert message.startswith("contact round: ")
    assert "same loop for ever" in message and "(collate_information)" in message


def test_a_contact_about_a_child_in_dorset_takes_the_authority_the_postcode_names() -> None:
    dorset = scenario(contact("dorset", {}, child={"name": "Child", "postcode": "DT1 1AA"}))
    [redirected] = simulate(build(dorset, "test"), PROCESSES)["contacts"]
    assert redirected["outcome"] == "redirected"
    assert [(n["kind"], n["to"]) for n in redirected["notifications"]] == [
        ("redirect_to_local_authority", "childrens.advice@dorset.invalid")]


def test_a_postcode_the_data_cannot_place_needs_an_answer_naming_the_authority() -> None:
    split = scenario(contact("sherborne", {}, child={"name": "Child", "postcode": "DT9 5AA"}))
    with pytest.raises(ScenarioError) as stopped:
        simulate(build(split, "test"), PROCESSES)
    assert "contact sherborne: task" in str(stopped.value)
    assert "(redirect) asks for 'authority'" in str(stopped.value)
