"""The names each expression reads, against what can have set them (issues 16.1 and 16.3):
the real diagrams pass, and each way a process owner's change breaks a name is refused (or
warned about) naming the element, the name and the nearest known name."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import dataflow, diagrams
from engine.dataflow import Fact

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
REAL = {p.name: p.read_bytes() for p in [*PROCESSES.glob("*.bpmn"), *PROCESSES.glob("*.dmn")]}


def analysed(changes: dict[str, tuple[str, str]] | None = None,
             extra: dict[str, bytes] | None = None) -> list[str]:
    files = dict(REAL)
    for name, (old, new) in (changes or {}).items():
        text = files[name].decode()
        assert old in text, old
        files[name] = text.replace(old, new, 1).encode()
    files.update(extra or {})
    problems, found = diagrams.validate_files(files)
    assert found is not None, [str(p) for p in problems]
    return [str(p) for p in dataflow.check(found)]


def test_the_real_diagrams_read_only_names_that_are_set() -> None:
    assert analysed() == []


FR = "first_response.bpmn"
ACCEPTED = FR, ('<camunda:formField id="accepted" label=', '<camunda:formField id="approved_x" label=')

BROKEN = [
    ("a timer's since misspelt (issue 16.1)",
     {FR: ("working_days(1, since=received_at)", "working_days(1, since=recieved_at)")},
     'decision_due "Decision due (1 working day)": timer timeDate reads \'recieved_at\', which '
     "nothing before it sets; did you mean 'received_at'?"),
    ("a deadline's start misspelt",
     {FR: ('<camunda:property name="since" value="received_at" />',
           '<camunda:property name="since" value="recieved_at" />')},
     "deadline start (since) reads 'recieved_at', which nothing before it sets; did you mean "
     "'received_at'?"),
    ("a condition on a misspelt field (issue 16.1)",
     {FR: ('postcode_check == "other"', 'postcode_chek == "other"')},
     "postcode_gw_to_redirect_merge \"not BCP\": condition reads 'postcode_chek', which nothing "
     "before it sets; did you mean 'postcode_check'?"),
    ("a required field a gateway reads, deleted (issue 16.3)", dict([ACCEPTED]),
     "verify_gw_to_nfa_oversight \"not accepted\": condition reads 'accepted', which is only ever "
     "empty here: receive_contact leaves it empty for a later step, and no step before this one "
     "gives it a value"),
    ("a name in a called process, misspelt",
     {"missing_child.bpmn": ('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                             'open_case</bpmn:conditionExpression>',
                             '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                             'opencase</bpmn:conditionExpression>')},
     "allocated_gw_to_send_missing_report \"yes\": condition reads 'opencase', which nothing "
     "before it sets; did you mean 'open_case'?"),
    ("a script reading a message it never waited for",
     {FR: ('rag = ppn_rated["rag"]', 'rag = ppn_rating["rag"]')},
     "take_rating \"Take the meeting's threshold and RAG rating\": script reads 'ppn_rating', "
     "which nothing before it sets; did you mean 'ppn_rated'?"),
    ("an outcome reading a field of no task",
     {"missing_child.bpmn": ('value="${outcome}"', 'value="${outcomes}"')},
     "outcome reads 'outcomes', which nothing before it sets; did you mean 'outcome'?"),
    ("a form's condition reading another task's field",
     {FR: ('value="in_bcp == False"', 'value="in_bcpp == False"')},
     "form field 'authority' required_when reads 'in_bcpp', which nothing before it sets; did "
     "you mean 'in_bcp'?"),
    ("a multi-instance over a list nobody made",
     {"ppn_meeting.bpmn": ('camunda:collection="ppns"', 'camunda:collection="ppn_list"')},
     "multi-instance collection reads 'ppn_list', which nothing before it sets"),
]


@pytest.mark.parametrize(("what", "changes", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_name_is_one_problem_naming_element_name_and_suggestion(
        what: str, changes: dict[str, tuple[str, str]], expected: str) -> None:
    found = analysed(changes)
    assert any(expected in p for p in found), found
    assert not any(p.split(": ", 2)[1].startswith("warning") for p in found if expected in p)


def test_a_name_set_on_some_paths_only_is_a_warning() -> None:
    # a name no step sets at all is an error, even read beside one that is set
    found = analysed({FR: ('postcode_check == "other"', 'postcode_check == "other" and researched')})
    assert any("condition reads 'researched', which nothing before it sets; did you mean "
               "'research'?" in p for p in found)
    # `authority_email` is asked for only on the redirect path; read after the paths meet
    found = analysed({FR: ('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">rag is '
                           'not None</bpmn:conditionExpression>',
                           '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                           'authority_email is not None</bpmn:conditionExpression>')})
    assert found == ["first_response.bpmn: route_gw_to_open_contact_task \"RAG rated\": warning: "
                     "condition reads "
                     "'authority_email', which is not set on every path to here; set it on every "
                     "path (e.g. a form field, or a handler's output), or move the expression"]


def test_what_is_known_before_an_element() -> None:
    _, found = diagrams.validate_files(REAL)
    assert found is not None
    before_verify = dataflow.names_before(found, "verify")
    assert before_verify is not None
    assert {"channel", "received_at", "postcode_check", "open_case"} <= before_verify.every
    assert "accepted" in before_verify.every  # receive_contact leaves it empty for verify
    before_gw = dataflow.names_before(found, "verify_gw")
    assert before_gw is not None and "accepted" in before_gw.valued  # the verify form
    # through the call activity: what missing_child's steps set comes back to first response
    after_call = dataflow.names_before(found, "missing_end")
    assert after_call is not None and "record_notes" in after_call.present
    # a called process's data comes back: the risk assessment's form before the decision
    decided = dataflow.names_before(found, "missing_decision")
    assert decided is not None and {"risk_summary", "strategy_discussion"} <= decided.every
    # a deadline timer that fired tells the steps after it which deadline
    breach = dataflow.names_before(found, "decision_breach")
    assert breach is not None and "breached_deadline" in breach.every
    # the PPN meeting: each PPN is the multi-instance element variable
    rate = dataflow.names_before(found, "rate_ppn")
    assert rate is not None and "ppn" in rate.every and "scheduled_at" in rate.every


def test_facts_merge_as_paths_do() -> None:
    a = Fact().sets({"x", "y"})
    b = Fact().sets({"x"}).empties({"z"}, by="h")
    either = a.either(b)
    assert either.present == {"x", "y", "z"} and either.every == {"x"}
    assert either.valued == {"x", "y"}
    both = a.both(b)
    assert both.every == {"x", "y", "z"}


def test_a_process_started_with_data_declares_it_on_its_start_event() -> None:
    timer = (Path(__file__).resolve().parents[1] / "diagrams" / "timer.bpmn").read_text()
    _, found = diagrams.validate_files({"timer.bpmn": timer.encode()})
    assert found is not None
    assert [str(p) for p in dataflow.check(found)] == [
        "timer.bpmn: timer_wait \"Wait until due_at\": timer timeDate reads 'due_at', which "
        "nothing before it sets; set it in an earlier step (a form field, a handler's output, a "
        "script) or check the spelling"]
    declared = timer.replace(
        '<bpmn:startEvent id="timer_start" name="Start" />',
        '<bpmn:startEvent id="timer_start" name="Start"><bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="due_at" label="Due" type="string" /></camunda:formData>'
        "</bpmn:extensionElements></bpmn:startEvent>")
    _, found = diagrams.validate_files({"timer.bpmn": declared.encode()})
    assert found is not None and dataflow.check(found) == []


def test_a_form_default_naming_nothing_is_refused() -> None:
    found = analysed({FR: ('defaultValue="${immediate_risk}"', 'defaultValue="${immediate_risks}"')})
    assert any("form field 'immediate_risk' default value reads 'immediate_risks', which nothing "
               "before it sets; did you mean 'immediate_risk'?" in p for p in found), found
