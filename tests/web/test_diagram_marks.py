"""What the case view's diagram marks when the case is inside a called process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.web.diagram import marks

XML = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="main">
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="call_assess" calledElement="assess"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@dataclass
class Model:
    elements: dict[str, Any] = field(default_factory=dict)


MODELS = {"main": Model({"start": 1, "call_assess": 1, "end": 1}),
          "assess": Model({"assess_start": 1, "allocate": 1})}


def test_an_element_of_a_called_process_is_shown_as_its_call_activity() -> None:
    shown = marks(XML, "main", MODELS, path=["start", "assess_start", "assess_start"],
                  current=["allocate"])
    assert shown == {"current": ["call_assess"], "path": ["start", "call_assess"]}


def test_elements_of_the_process_itself_are_marked_as_they_are() -> None:
    shown = marks(XML, "main", MODELS, path=["start", "call_assess"], current=["end", "gone"])
    assert shown == {"current": ["end"], "path": ["start", "call_assess"]}
