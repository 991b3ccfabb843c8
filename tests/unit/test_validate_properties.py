"""`validate_files` never raises, whatever is done to a diagram (issue 15.4): every problem
is one line of the problem list. Hypothesis mutates real and test diagrams the ways a
modeller, a hand edit or an attacker might, and checks what comes back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import tests.engine.conftest  # noqa: F401 - registers the test handlers
from engine import diagrams

HERE = Path(__file__).resolve().parents[1]
SOURCES = {
    "review.bpmn": (HERE / "diagrams" / "review.bpmn").read_bytes(),
    "timers.bpmn": (HERE / "diagrams" / "timers.bpmn").read_bytes(),
    "escalation.bpmn": (HERE.parent / "processes" / "escalation.bpmn").read_bytes(),
    "ppn_meeting.bpmn": (HERE.parent / "processes" / "ppn_meeting.bpmn").read_bytes(),
    "missing_child.bpmn": (HERE.parent / "processes" / "missing_child.bpmn").read_bytes(),
}
# What a process owner writes: the schema stays valid, the meaning does not.
WRITTEN = ("conditionExpression", "timeDate", "timeDuration", "timeCycle", "script", "property",
           "formField", "constraint", "value", "lane", "businessRuleTask", "callActivity",
           "text", "inputExpression", "output", "decisionTable")
NASTY = [
    "", " ", "'", '"', "o'brien", "a\"b", "${", "${}", "${().__class__.__mro__}", "}", "-1",
    "1e309", "NaN", "99999999999999999999999", "P1X", "PT4Hours", "R/P1X", "R", "P",
    "working_days(1, since=recieved_at)", "-" * 5000 + "1", "(" * 300, "é ✓ \u202e", "\t\n",
    "__import__('os')", "x" * 3000, "each_working_day('25:99')", "working_hours(-4)",
    "sum(1 for a in 'x'*100000 for b in 'x'*100000)", "concat('a', $id)", "]",
    "role:Nobody", "true", "false", "none", "0",
]
TAGS = ["task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "callActivity",
        "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
        "eventBasedGateway", "startEvent", "endEvent", "boundaryEvent",
        "intermediateCatchEvent", "lane", "sequenceFlow", "timerEventDefinition"]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def _mutate(source: bytes, choices: list[tuple[int, int, int, int]]) -> bytes:
    root = etree.fromstring(source)
    for kind, which, pick, text in choices:
        nodes = [n for n in root.iter() if isinstance(n.tag, str)]
        node = nodes[which % len(nodes)]
        value = NASTY[text % len(NASTY)]
        if kind == 0 and node.getparent() is not None:
            node.getparent().remove(node)
        elif kind == 1 and node.attrib:
            name = sorted(node.attrib)[pick % len(node.attrib)]
            node.set(name, value)
        elif kind == 2:
            node.text = value
        elif kind == 3 and node.getparent() is not None:
            node.getparent().append(etree.fromstring(etree.tostring(node)))
        elif kind == 4:
            node.tag = BPMN + TAGS[pick % len(TAGS)]
        elif kind == 6:
            written = [n for n in nodes if etree.QName(n).localname in WRITTEN] or nodes
            target = written[which % len(written)]
            if etree.QName(target).localname in ("property", "formField", "constraint", "value",
                                                 "lane", "callActivity", "output", "decisionTable",
                                                 "businessRuleTask"):
                attribute = ["value", "id", "name", "config", "calledElement", "hitPolicy",
                             "typeRef"][pick % 7]
                if attribute in target.attrib or pick % 2:
                    target.set(attribute, value)
            else:
                target.text = value
        elif kind == 5:
            node.set("{http://camunda.org/schema/1.0/bpmn}" + ["topic", "decisionRef",
                     "collection", "elementVariable"][pick % 4], value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _assert_answers(files: dict[str, bytes]) -> None:
    found, parsed = diagrams.validate_files(files)
    assert (parsed is None) == bool(found)
    for problem in found:
        line = str(problem)
        assert "\n" not in line, line
        assert "could not be checked" not in line, line  # our own bug, not the diagram's


EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "300"))  # more to search harder
MUTATION = st.tuples(st.integers(0, 6), st.integers(0, 10_000), st.integers(0, 100),
                     st.integers(0, 100))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SOURCES)), mutations=st.lists(MUTATION, min_size=1,
                                                                 max_size=4))
def test_validate_never_raises_on_a_mutated_diagram(name: str, mutations: Any) -> None:
    _assert_answers({name: _mutate(SOURCES[name], mutations)})


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(SOURCES)), cut=st.integers(0, 100_000),
       junk=st.binary(max_size=40))
def test_validate_never_raises_on_damaged_bytes(name: str, cut: int, junk: bytes) -> None:
    source = SOURCES[name]
    at = cut % (len(source) + 1)
    _assert_answers({name: source[:at] + junk + source[at:]})


DMN = (HERE / "diagrams" / "rag_timescale.dmn").read_bytes()
DMN_PROCESS = (HERE / "diagrams" / "timescale.bpmn").read_bytes()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4), which=st.booleans())
def test_validate_never_raises_on_a_mutated_decision_table(mutations: Any, which: bool) -> None:
    if which:
        _assert_answers({"timescale.bpmn": DMN_PROCESS,
                         "rag_timescale.dmn": _mutate(DMN, mutations)})
    else:
        _assert_answers({"timescale.bpmn": _mutate(DMN_PROCESS, mutations),
                         "rag_timescale.dmn": DMN})
