"""What the case view's diagram marks: the current position and the path taken, in the
diagram of the instance's own process.

An instance inside a called process (a call activity: the risk assessment, say) has its
open task and recent steps in another diagram; the case view marks the call activity that
holds them, so "where the case is" is always something on the drawing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from lxml import etree

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


class Model(Protocol):
    @property
    def elements(self) -> Mapping[str, Any]: ...


def call_activities(xml: str, process_id: str) -> dict[str, str]:
    """The process's call activities: called process id -> call activity element id."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(xml.encode("utf-8"), parser)
    found: dict[str, str] = {}
    for process in root.iter(f"{BPMN}process"):
        if process.get("id") != process_id:
            continue
        for node in process.iter(f"{BPMN}callActivity"):
            called = node.get("calledElement")
            if called:
                found.setdefault(called, node.get("id") or "")
    return found


def _unique(ids: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for element_id in ids:
        if element_id:
            seen.setdefault(element_id, None)
    return list(seen)


def marks(xml: str, process_id: str, models: Mapping[str, Model], path: list[str],
          current: list[str]) -> dict[str, list[str]]:
    """The ids to mark in the process's own diagram: `current` and `path`, an element of a
    called process standing for the call activity that called it."""
    own = set(models[process_id].elements) if process_id in models else set()
    calls = call_activities(xml, process_id)
    owner = {element_id: model_id for model_id, model in models.items()
             if model_id != process_id for element_id in model.elements}

    def lifted(element_id: str) -> str | None:
        if element_id in own:
            return element_id
        return calls.get(owner.get(element_id, ""))

    return {"current": _unique(lifted(e) for e in current),
            "path": _unique(lifted(e) for e in path)}
