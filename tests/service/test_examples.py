"""examples/: every example is what it says. Each contact is accepted by `POST /contacts` on
the real service and takes the route examples/README.md names; the disagreement starts the
escalation; the scenario replays those same contacts through `mash simulate`; the README's
curl line and the year generator's command work as written."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from tests.pathways.harness import REPOSITORY

from .conftest import Service

EXAMPLES = REPOSITORY / "examples"
CONTACTS = sorted(EXAMPLES.glob("contact-*.json"))

# Where each example contact goes first: its open task (element id), flags and notifications.
ROUTES: dict[str, dict[str, Any]] = {
    "contact-red.json": {"task": "brag", "flags": ["immediate_risk"],
                         "notified": ["police_notification"]},
    "contact-amber.json": {"task": "verify", "flags": [], "notified": []},
    "contact-missing.json": {"task": "missing_brag", "flags": [], "notified": []},
    "contact-ppn.json": {"task": None, "flags": [], "notified": []},  # waits for the meeting
    "contact-not-bcp.json": {"task": "redirect", "flags": [], "notified": []},
    "contact-siblings.json": {"task": "verify", "flags": [], "notified": []},  # each child
}


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_example_contact_has_a_route_here_and_a_line_in_the_readme() -> None:
    assert CONTACTS, "examples/ has no contact-*.json"
    assert {p.name for p in CONTACTS} == set(ROUTES)
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in [*CONTACTS, EXAMPLES / "disagreement.json", EXAMPLES / "scenario.json"]:
        assert f"[`{path.name}`]({path.name})" in readme


@pytest.mark.parametrize("path", CONTACTS, ids=lambda p: p.stem)
def test_an_example_contact_is_accepted_and_takes_its_route(service: Service, path: Path) -> None:
    answer = service.call("bsio", "POST", "/contacts", content=path.read_bytes(),
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    instance = service.call("admin", "GET", f"/instances/{answer.json()['id']}").json()
    expected = ROUTES[path.name]
    assert instance["state"] == "waiting"
    assert [t["element_id"] for t in instance["open_tasks"]] == \
        ([expected["task"]] if expected["task"] else [])
    assert instance["flags"] == expected["flags"]
    assert [n["kind"] for n in instance["notifications"]] == expected["notified"]
    if path.name == "contact-ppn.json":  # it waits at the PPN meeting's message
        assert instance["path"][-1] == "ppn_gw"
    named = read(path).get("children", [read(path).get("child")])
    children = answer.json().get("children", [])
    assert [c["position"] for c in children] == list(range(len(named)))
    assert children[0]["instance_id"] == answer.json()["id"]
    for child in children[1:]:  # a sibling is screened as a case of its own, on the same route
        sibling = service.call("admin", "GET", f"/instances/{child['instance_id']}").json()
        assert [t["element_id"] for t in sibling["open_tasks"]] == [expected["task"]]


def test_the_example_disagreement_starts_at_stage_1(service: Service) -> None:
    answer = service.call("professional", "POST", "/disagreements",
                          content=(EXAMPLES / "disagreement.json").read_bytes(),
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    instance = service.call("admin", "GET", f"/instances/{answer.json()['id']}").json()
    assert instance["process"] == "escalation"
    assert [t["element_id"] for t in instance["open_tasks"]] == ["stage_1_response"]


def test_the_readme_curl_line_works_as_written_from_the_repository_root(service: Service) -> None:
    """The README's command, run by curl from the root: only the token and port filled in."""
    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^curl .*?http://127\.0\.0\.1:8080/contacts$", text, re.M | re.S)
    assert found, "README.md has no curl line posting to /contacts"
    command = found.group(0).replace("\\\n", " ")
    assert "@examples/contact-" in command
    command = command.replace("TOKEN", service.tokens["bsio"]).replace(
        "http://127.0.0.1:8080", service.url)
    done = subprocess.run(shlex.split(command), cwd=REPOSITORY, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert {"id", "received_at"} <= set(answer)


def test_the_scenario_replays_the_example_contacts(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = read(EXAMPLES / "scenario.json")
    bodies = {p.name: read(p) for p in CONTACTS}
    replayed = [c["contact"] for c in scenario["contacts"]]
    for name, body in bodies.items():
        assert body in replayed, f"{name} is not in examples/scenario.json"
    assert main(["simulate", str(EXAMPLES / "scenario.json"), "--json",
                 "--processes", str(REPOSITORY / "processes")]) == 0
    report = json.loads(capsys.readouterr().out)
    outcomes = {c["id"]: c["outcome"] for c in report["contacts"]}
    assert outcomes == {"red": "s47", "amber": "s17", "ppn": "early_help",
                        "not_bcp": "redirected", "missing": "s17", "siblings": "s17"}
    siblings = next(c for c in report["contacts"] if c["id"] == "siblings")
    assert [(c["outcome"], c["rag"]) for c in siblings["children"]] == \
        [("s17", "AMBER"), ("early_help", "GREEN")]  # each child rated and decided on its own
    assert [d["outcome"] for d in report["disagreements"]] == ["resolved_stage_2"]
    red = next(c for c in report["contacts"] if c["id"] == "red")
    missed = [d for d in red["deadlines"] if d["met"] is False]
    assert [d["name"] for d in missed] == ["rag_timescale"]  # as examples/README.md says


def test_the_year_generator_command_works_as_written(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^\.venv/bin/mash (simulate --generate .*?) > year\.json$", text, re.M)
    assert found, "examples/README.md has no generator command"
    assert main(shlex.split(found.group(1))) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == 1
    assert len(document["contacts"]) == 20_000
    assert len(document["disagreements"]) == 200
    arrived = sorted(c["received_at"] for c in document["contacts"])
    assert arrived[0] >= "2026-01-05" and arrived[-1] < "2027-01-05"
