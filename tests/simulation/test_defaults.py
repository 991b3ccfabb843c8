"""A new required form field does not stop every scenario (issue 16, item 11): a scenario
gives a default per field (`"defaults"`), and `mash simulate --generate` fills the fields it
does not know from the form's declared type and options, with a warning listing them."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.simulation.parallel import report as simulate
from engine.simulation.scenario import ScenarioError, build
from tests.pathways.harness import PROCESSES

HERE = Path(__file__).parent
SCENARIO = json.loads((HERE / "scenario_all_outcomes.json").read_text())
NEW_FIELDS = """            <camunda:formField id="police_checked" label="Police checks done?" type="boolean">
              <camunda:validation>
                <camunda:constraint name="required" />
              </camunda:validation>
            </camunda:formField>
            <camunda:formField id="checks_source" label="Where the checks came from" type="enum">
              <camunda:validation>
                <camunda:constraint name="required" />
              </camunda:validation>
              <camunda:value id="niche" name="Niche (police)" />
              <camunda:value id="pnc" name="Police National Computer" />
            </camunda:formField>
"""


@pytest.fixture
def changed(tmp_path: Path) -> Path:
    """The real diagrams, with two new required fields on verification."""
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    diagram = folder / "first_response.bpmn"
    text = diagram.read_text(encoding="utf-8")
    anchor = '            <camunda:formField id="research"'
    assert text.count(anchor) == 1
    diagram.write_text(text.replace(anchor, NEW_FIELDS + anchor), encoding="utf-8")
    return folder


def two_contacts() -> dict[str, Any]:
    document = copy.deepcopy(SCENARIO)
    document["contacts"] = [c for c in document["contacts"] if c["id"] in ("c1", "s17")]
    document["disagreements"] = []
    return document


def test_a_new_required_field_stops_a_scenario_that_does_not_answer_it(changed: Path) -> None:
    with pytest.raises(ScenarioError, match="police_checked"):
        simulate(build(two_contacts(), "s"), changed)


def test_defaults_answer_it_for_every_contact_unless_a_contact_says_otherwise(
        changed: Path) -> None:
    document = two_contacts()
    document["defaults"] = {"police_checked": True, "checks_source": "niche"}
    document["contacts"][1]["answers"]["checks_source"] = "pnc"
    report = simulate(build(document, "s"), changed)
    # the same outcomes and deadlines as on the diagrams without the new fields
    unchanged = simulate(build(two_contacts(), "s"), PROCESSES)
    assert [(c["outcome"], c["deadlines"]) for c in report["contacts"]] == [
        (c["outcome"], c["deadlines"]) for c in unchanged["contacts"]] and \
        [c["outcome"] for c in report["contacts"]] == ["s47", "s17"]
    scenario = build(document, "s")
    assert [c.answers["checks_source"] for c in scenario.contacts] == ["niche", "pnc"]
    assert all(c.answers["police_checked"] is True for c in scenario.contacts)


def test_defaults_must_be_an_object_of_known_fields() -> None:
    document = two_contacts()
    document["defaults"] = ["police_checked"]
    with pytest.raises(ScenarioError, match="defaults must be an object"):
        build(document, "s")
    document["defaults"] = {"no_such_field": 1}
    with pytest.raises(ScenarioError, match=r"defaults\.no_such_field is not a field"):
        build(document, "s", known_answers={"accepted"})


def test_generate_fills_the_fields_it_does_not_know_and_says_which(
        changed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--generate", "6", "--seed", "3", "--from", "2026-11-23",
                 "--days", "2", "--processes", str(changed)]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    # from the declared type: a yes/no is "no"; a choice takes its first option
    assert document["defaults"] == {"police_checked": False, "checks_source": "niche"}
    assert "does not know these fields" in captured.err
    assert "police_checked (Verification and research: history and previous involvement, " \
           "boolean) = False" in captured.err
    assert "checks_source (Verification and research: history and previous involvement, " \
           "enum) = 'niche'" in captured.err
    report = simulate(build(document, "generated"), changed)  # and it runs
    assert report["summary"]["contacts"] == 6


def test_generate_on_the_diagrams_as_they_are_fills_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--generate", "3", "--from", "2026-11-23",
                 "--processes", str(PROCESSES)]) == 0
    captured = capsys.readouterr()
    assert "defaults" not in json.loads(captured.out) and "warning" not in captured.err


def test_a_value_for_each_declared_type() -> None:
    from datetime import date

    from engine.simulation.generate import value_for

    day = date(2026, 11, 23)
    assert value_for({"type": "long", "min": 1, "max": 4}, day) == 1
    assert value_for({"type": "long"}, day) == 0
    assert value_for({"type": "date"}, day) == "2026-11-23"
    assert value_for({"type": "enum", "multiple": True, "options": [{"id": "a"}]}, day) == ["a"]
    assert len(value_for({"type": "string", "minlength": 40}, day)) == 40
