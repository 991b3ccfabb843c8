"""`mash validate`: every rule, each with a diagram broken in just that way.

The broken diagrams are the small tests/diagrams/review.bpmn with one change each, so each
test shows exactly what a process owner did wrong and what they are told."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.engine.conftest  # noqa: F401 - registers the test handlers
from engine import diagrams
from engine.cli import main

GOOD = (Path(__file__).resolve().parents[1] / "diagrams" / "review.bpmn").read_text()


def problems(text: str, name: str = "review.bpmn", others: dict[str, str] | None = None) -> list[str]:
    files = {name: text.encode(), **{k: v.encode() for k, v in (others or {}).items()}}
    found, parsed = diagrams.validate_files(files)
    assert (parsed is None) == bool(found)
    return [str(p) for p in found]


def broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def test_the_good_diagram_is_valid() -> None:
    assert problems(GOOD) == []


CASES = [
    ("not xml", GOOD[:200], "not well-formed XML"),
    ("not bpmn", '<?xml version="1.0"?><html/>', "is not a BPMN 2.0 diagram"),
    ("not executable", broken('isExecutable="true"', 'isExecutable="false"'),
     'review "Review a request": the process is not executable'),
    ("service task without topic", broken(' camunda:type="external" camunda:topic="test_check"', ""),
     'check "Check the request": the service task names no handler'),
    ("unknown topic", broken('camunda:topic="test_check"', 'camunda:topic="tset_check"'),
     "no handler is registered for topic 'tset_check'"),
    ("user task in no lane", broken("<bpmn:flowNodeRef>review_task</bpmn:flowNodeRef>", ""),
     'review_task "Review the request": the user task is in no lane'),
    ("user task without fields", broken(GOOD[GOOD.index("<camunda:formData>"):
                                             GOOD.index("</camunda:formData>") + 19], ""),
     "the user task declares no form fields"),
    ("field id not a name", broken('id="approved" label', 'id="approved?" label'),
     "form field id 'approved?' is not a plain name"),
    ("field of unknown type", broken('label="Reasons" type="string"', 'label="Reasons" type="text"'),
     "form field 'reasons' has type 'text'"),
    ("field declared twice", broken('id="reasons"', 'id="approved"'),
     "form field 'approved' is declared twice"),
    ("unknown constraint", broken('<camunda:constraint name="required" />',
                                  '<camunda:constraint name="mandatory" />'),
     "unknown constraint 'mandatory'"),
    ("required_when unsafe", broken('value="approved == False"', 'value="__import__(1)"'),
     "form field 'reasons' required_when"),
    ("required_when calling what forms cannot", broken('value="approved == False"',
                                                       'value="is_hub_open()"'),
     "form field 'reasons' required_when: is_hub_open() is not a function diagrams can call"),
    ("condition unsafe", broken("<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
                                "<bpmn:conditionExpression>__import__('os')</bpmn:conditionExpression>"),
     "f4 \"yes\": condition \"__import__('os')\": __import__() is not a function diagrams "
     "can call"),
    ("condition broken", broken("<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
                                "<bpmn:conditionExpression>approved ==</bpmn:conditionExpression>"),
     "is not valid Python"),
    ("flow with no condition", broken('default="f5"', ""),
     "f5 \"no\": leaves gateway 'approved_gw' with no condition"),
    ("timer unsafe", broken("working_hours(4)", "open('/etc/passwd').read()"),
     "'.read' is not allowed"),
    ("unknown function", broken("working_hours(4)", "open('/etc/passwd')"),
     "open() is not a function diagrams can call"),
    ("timer empty", broken("<bpmn:timeDate>working_hours(4)</bpmn:timeDate>", ""),
     "the timer has no date, duration or cycle"),
    ("deadline name", broken('value="review" />', 'value="review deadline" />'),
     "deadline name 'review deadline' is not a plain name"),
    ("calls nothing known", broken('<bpmn:serviceTask id="breach"',
                                   '<bpmn:callActivity id="call" calledElement="nowhere" />'
                                   '<bpmn:serviceTask id="breach"'),
     "calls process 'nowhere', which no diagram defines"),
    ("schema", broken('<bpmn:endEvent id="end_breach"',
                      '<bpmn:frobnicate /><bpmn:endEvent id="end_breach"'),
     "frobnicate"),
    # issue 15.4: what crashed validation, or passed it and then failed at run time
    ("lane id with a quote", broken('id="lane_reviewer"', 'id="lane_o\'brien"'),
     "'lane_o'brien' is not a valid value"),
    ("100,000 unary minus signs", broken("<bpmn:conditionExpression>approved<",
                                         "<bpmn:conditionExpression>" + "-" * 100_000 + "1<"),
     "the limit is 2000"),
    ("deeply nested condition", broken("<bpmn:conditionExpression>approved<",
                                       "<bpmn:conditionExpression>" + "-" * 1_500 + "1<"),
     "nested"),
    ("outcome expression unsafe", broken('value="approved" />',
                                         'value="${().__class__.__mro__[1]}" />'),
     "end_approved \"Approved\": outcome '().__class__.__mro__[1]': '.__mro__' is not allowed"),
    ("outcome expression broken", broken('value="approved" />', 'value="${outcome ==}" />'),
     "outcome 'outcome ==': is not valid Python"),
    ("outcome half an expression", broken('value="approved" />', 'value="${outcome" />'),
     "is neither a name nor one ${expression}"),
    ("business rule task without decision", broken(
        '<bpmn:serviceTask id="breach"', '<bpmn:businessRuleTask id="rule" name="Rate" />'
        '<bpmn:serviceTask id="breach"'),
     'rule "Rate": the business rule task names no decision'),
    ("business rule task with unknown decision", broken(
        '<bpmn:serviceTask id="breach"', '<bpmn:businessRuleTask id="rule" '
        'camunda:decisionRef="timescale" /><bpmn:serviceTask id="breach"'),
     "uses decision 'timescale', which no .dmn file beside the diagrams defines"),
    # issue 16.1: timers are parsed fully and their expressions give what the timer needs
    ("timer P1X", broken("<bpmn:timeDate>working_hours(4)</bpmn:timeDate>",
                         "<bpmn:timeDuration>P1X</bpmn:timeDuration>"),
     "timer timeDuration 'P1X': 'P1X' is not an ISO 8601 duration"),
    ("timer PT4Hours", broken("<bpmn:timeDate>working_hours(4)</bpmn:timeDate>",
                              "<bpmn:timeDuration>PT4Hours</bpmn:timeDuration>"),
     "'PT4Hours' is not an ISO 8601 duration"),
    ("timer date given a duration", broken("working_hours(4)", "PT4H"),
     "'PT4H' is not an ISO 8601 date and time"),
    ("timer date without a zone", broken("working_hours(4)", "2026-11-30T09:00:00"),
     "is not an ISO 8601 date and time with a zone"),
    ("timer cycle given an instant", broken(
        "<bpmn:timeDate>working_hours(4)</bpmn:timeDate>",
        "<bpmn:timeCycle>working_hours(4)</bpmn:timeCycle>"),
     "gives an instant, but a timeCycle needs a cycle"),
    ("timer date given a number", broken("working_hours(4)", "4 * 60"),
     "gives a number, but a timeDate needs an instant"),
    ("timer misspelt keyword", broken("working_hours(4)", "working_days(1, sinse=received_at)"),
     "working_days(): got an unexpected keyword argument 'sinse'"),
    ("timer huge timescale", broken("working_hours(4)", "working_days(1000000)"),
     "working_days(1000000) is not a timescale"),
    ("timer bad time of day", broken(
        "<bpmn:timeDate>working_hours(4)</bpmn:timeDate>",
        "<bpmn:timeCycle>each_working_day(\"25:00\")</bpmn:timeCycle>"),
     "each_working_day(): '25:00' is not a time of day"),
]


@pytest.mark.parametrize(("what", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_the_file_element_and_problem(what: str, text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found
    assert all(p.startswith("review.bpmn") for p in found)


def test_external_entities_are_refused_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    hostile = GOOD.replace('<?xml version="1.0" encoding="UTF-8"?>',
                           f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>')
    hostile = hostile.replace('name="Review a request"', 'name="&x;"')
    found = problems(hostile)
    assert len(found) == 1 and "DOCTYPE" in found[0] and "do not read me" not in found[0]


def test_a_billion_laughs_is_refused_quickly() -> None:
    laughs = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]>"
    found = problems(laughs + GOOD.split("?>", 1)[1].replace('name="Review a request"', 'name="&j;"'))
    assert any("DOCTYPE" in p for p in found)


def test_an_oversized_file_is_refused() -> None:
    assert any("the limit is" in p for p in problems(GOOD + " " * diagrams.MAX_DIAGRAM_BYTES))


def test_ids_must_be_unique_across_diagrams() -> None:
    other = GOOD.replace('id="review"', 'id="review_two"').replace('id="review_defs"', 'id="x"')
    found = problems(GOOD, others={"other.bpmn": other})
    assert any("the id is also used in" in p for p in found)


def test_a_process_id_defined_twice_is_named() -> None:
    found = problems(GOOD, others={"copy.bpmn": GOOD})
    assert any("process id 'review' is also defined in" in p for p in found)


def test_mash_validate_lists_every_problem_and_fails(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = broken('camunda:topic="test_check"', 'camunda:topic="nope"').replace(
        "<bpmn:flowNodeRef>review_task</bpmn:flowNodeRef>", "")
    (tmp_path / "review.bpmn").write_text(bad)
    assert main(["validate", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(str(tmp_path / "review.bpmn")) for line in lines)
    assert "2 problems; nothing was deployed" in err


def test_mash_validate_says_what_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "review.bpmn").write_text(GOOD)
    assert main(["validate", str(tmp_path / "review.bpmn")]) == 0
    assert "1 diagram(s) valid: review" in capsys.readouterr().out
