"""Loading and validating the diagrams: XML safety, the BPMN 2.0 schema, and our own checks.

`validate_files` reports every problem it finds, each naming the file, the element and what
to do, so a process owner fixes a diagram in one pass; it never raises. `DiagramSet` is a
validated set of files with the parsed specs and what the engine reads from the XML beside
them: each element's role (its lane), name and extension properties, and the sequence flows.
Decision tables (`.dmn`) are files of the set too, and of the versions of the processes
whose business rule tasks use them.

What needs the whole folder (the names each expression reads, the calendar and directory,
a dry run) is checked by `engine/checking.py`, for `mash validate` and `mash deploy`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask

from . import forms, registry
from .bpmn.dmn import RESULT_MAPPINGS, Decision, is_dmn, read_decision
from .bpmn.parser import MashParser, UnsafeXML, _validator, read_xml
from .expression_checks import CALLABLE, problems, timer_problems
from .problems import DiagramError, Problem

__all__ = ["CALLABLE", "DiagramError", "DiagramSet", "Problem", "load", "validate_files"]

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
BPMN = "{" + NS["bpmn"] + "}"
CAMUNDA = "{" + NS["camunda"] + "}"
SUFFIXES = (".bpmn", ".dmn")

MAX_DIAGRAM_BYTES = 5 * 1024 * 1024


@dataclass
class Element:
    id: str
    tag: str
    name: str | None
    role: str | None
    properties: dict[str, str]
    documentation: str | None
    form: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProcessModel:
    """What the engine needs of one process, read from the XML beside SpiffWorkflow's spec."""

    id: str
    name: str | None
    file: str
    elements: dict[str, Element] = field(default_factory=dict)
    flows: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (source, target)
    calls: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)  # decision ids its business rules use
    start_timer: str | None = None  # the timer of a timer start event: started on schedule

    def flow_between(self, source: str, target: str) -> str | None:
        for flow_id, (src, tgt) in self.flows.items():
            if src == source and tgt == target:
                return flow_id
        return None


def file_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _text(node: Any) -> str | None:
    if node is None or node.text is None:
        return None
    return str(node.text).strip() or None


def _properties(node: Any) -> dict[str, str]:
    found = node.xpath("./bpmn:extensionElements/camunda:properties/camunda:property",
                       namespaces=NS)
    return {p.get("name"): p.get("value") or "" for p in found if p.get("name")}


def _form(node: Any) -> list[dict[str, Any]]:
    fields = node.xpath("./bpmn:extensionElements/camunda:formData/camunda:formField",
                        namespaces=NS)
    try:
        return [forms.read_field(f) for f in fields]
    except ValueError:
        return []  # reported by the checker


def _shape_bounds(root: Any, element_id: str | None) -> tuple[float, float, float, float] | None:
    """The drawn bounds of an element (x, y, width, height), if drawn and readable."""
    if not element_id:
        return None
    shape = root.xpath(".//bpmndi:BPMNShape[@bpmnElement=$id]/dc:Bounds", namespaces=NS,
                       id=element_id)
    if not shape:
        return None
    try:
        x, y, w, h = (float(shape[0].get(k)) for k in ("x", "y", "width", "height"))
    except (TypeError, ValueError):
        return None
    return x, y, w, h


def _lanes(root: Any) -> tuple[dict[str, str], list[tuple[str, tuple[float, float, float, float]]]]:
    """Lane membership as written (flowNodeRef) and each lane's drawn bounds."""
    members: dict[str, str] = {}
    bounds: list[tuple[str, tuple[float, float, float, float]]] = []
    for lane in root.iter(f"{BPMN}lane"):
        name = (lane.get("name") or "").strip()
        for ref in lane.findall(f"{BPMN}flowNodeRef"):
            if ref.text:
                members[ref.text.strip()] = name
        drawn = _shape_bounds(root, lane.get("id"))
        if drawn is not None and lane.find(f"{BPMN}childLaneSet") is None:
            bounds.append((name, drawn))
    return members, bounds


def _centre(root: Any, element_id: str) -> tuple[float, float] | None:
    drawn = _shape_bounds(root, element_id)
    if drawn is None:
        return None
    x, y, w, h = drawn
    return x + w / 2, y + h / 2


def _role(root: Any, element_id: str, members: dict[str, str],
          lane_bounds: list[tuple[str, tuple[float, float, float, float]]]) -> str | None:
    """The lane an element belongs to: as listed in the lane, or, for an element nested in an
    expanded sub-process (which lanes do not list), the lane it is drawn in."""
    if element_id in members:
        return members[element_id] or None
    centre = _centre(root, element_id)
    if centre is None:
        return None
    for name, (x, y, w, h) in lane_bounds:
        if x <= centre[0] <= x + w and y <= centre[1] <= y + h:
            return name or None
    return None


FLOW_NODE_TAGS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "task", "userTask", "serviceTask", "scriptTask", "manualTask",
    "sendTask", "receiveTask", "businessRuleTask", "subProcess", "callActivity",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
}


def read_models(root: Any, filename: str) -> dict[str, ProcessModel]:
    members, lane_bounds = _lanes(root)
    models: dict[str, ProcessModel] = {}
    for process in root.iter(f"{BPMN}process"):
        if not process.get("id"):
            continue  # reported by the checker
        model = ProcessModel(id=process.get("id"), name=process.get("name"), file=filename)
        participant = root.xpath(".//bpmn:participant[@processRef=$id]", namespaces=NS,
                                 id=model.id)
        if participant and not model.name:
            model.name = participant[0].get("name")
        for node in process.iter():
            if not isinstance(node.tag, str):
                continue
            local = etree.QName(node).localname
            if local == "sequenceFlow":
                model.flows[node.get("id")] = (node.get("sourceRef"), node.get("targetRef"))
            elif local in FLOW_NODE_TAGS and node.get("id"):
                model.elements[node.get("id")] = Element(
                    id=node.get("id"), tag=local, name=(node.get("name") or "").strip() or None,
                    role=_role(root, node.get("id"), members, lane_bounds),
                    properties=_properties(node),
                    documentation=_text(node.find(f"{BPMN}documentation")),
                    form=_form(node) if local == "userTask" else [],
                )
                if local == "callActivity" and node.get("calledElement"):
                    model.calls.add(node.get("calledElement"))
                if local == "businessRuleTask" and node.get(f"{CAMUNDA}decisionRef"):
                    model.decisions.add(node.get(f"{CAMUNDA}decisionRef"))
        for start in process.findall(f"{BPMN}startEvent"):
            timer = start.find(f"{BPMN}timerEventDefinition")
            if timer is not None:
                value = next((c.text for c in timer if isinstance(c.tag, str) and c.text), None)
                model.start_timer = value.strip() if value else None
        models[model.id] = model
    return models


class _Checker:
    """Our semantic checks on one file's XML; collects problems instead of stopping."""

    def __init__(self, filename: str, root: Any, known_processes: set[str],
                 decisions: dict[str, Decision]) -> None:
        self.file = filename
        self.root = root
        self.known = known_processes
        self.decisions = decisions
        self.problems: list[Problem] = []
        self.members, self.lane_bounds = _lanes(root)

    def add(self, node: Any, message: str, hint: str = "") -> None:
        name = node.get("name") if node is not None else None
        element_id = node.get("id") if node is not None else None
        self.problems.append(Problem(self.file, element_id, name, message, hint))

    def expression(self, node: Any, source: str | None, what: str, mode: str = "eval") -> None:
        if source is None or not source.strip():
            self.add(node, f"{what} is empty", "write the expression in the modeller")
            return
        _, found = problems(source, mode)  # type: ignore[arg-type]
        for problem in found:
            self.add(node, f"{what} {_shown(source)}: {problem}",
                     "use the task data and the engine's functions only")

    def run(self) -> list[Problem]:
        for process in self.root.iter(f"{BPMN}process"):
            if not process.get("id"):
                self.add(process, "the process has no id", "give the process an id in the modeller")
            if process.get("isExecutable", "true") != "true":
                self.add(process, "the process is not executable",
                         "tick 'Executable' on the process in the modeller")
        for node in self.root.iter(f"{BPMN}serviceTask"):
            self.service_task(node)
        for node in self.root.iter(f"{BPMN}userTask"):
            self.user_task(node)
        for node in self.root.iter(f"{BPMN}scriptTask"):
            script = node.find(f"{BPMN}script")
            self.expression(node, _text(script) if script is not None else None, "script", "exec")
        for node in self.root.iter(f"{BPMN}businessRuleTask"):
            self.business_rule_task(node)
        for node in self.root.iter(f"{BPMN}sequenceFlow"):
            condition = node.find(f"{BPMN}conditionExpression")
            if condition is not None:
                self.expression(node, condition.text, "condition")
        for tag in ("exclusiveGateway", "inclusiveGateway"):
            for node in self.root.iter(f"{BPMN}{tag}"):
                self.gateway(node)
        for node in self.root.iter(f"{BPMN}timerEventDefinition"):
            self.timer(node)
        for node in self.root.iter(f"{BPMN}endEvent"):
            self.outcome(node)
        for node in self.root.iter(f"{BPMN}multiInstanceLoopCharacteristics"):
            for attribute in ("collection", "elementVariable"):
                value = node.get(f"{CAMUNDA}{attribute}")
                if value is not None and (not value.isidentifier() or value.startswith("_")):
                    self.add(node.getparent(), f"multi-instance {attribute} {value!r} is not a "
                             "plain name", "name a list in the task data, e.g. ppns")
        for node in self.root.iter(f"{BPMN}callActivity"):
            called = node.get("calledElement")
            if not called:
                self.add(node, "the call activity calls nothing",
                         "set 'Called element' to a process id")
            elif called not in self.known:
                self.add(node, f"calls process {called!r}, which no diagram defines",
                         f"use one of: {', '.join(sorted(self.known))}")
        return self.problems

    def service_task(self, node: Any) -> None:
        topic = node.get(f"{CAMUNDA}topic")
        if not topic:
            self.add(node, "the service task names no handler",
                     "set Implementation 'External' and a Topic; known topics: "
                     + ", ".join(registry.topics()))
        elif registry.lookup(topic) is None:
            self.add(node, f"no handler is registered for topic {topic!r}",
                     "use one of: " + ", ".join(registry.topics()))

    def user_task(self, node: Any) -> None:
        role = _role(self.root, node.get("id"), self.members, self.lane_bounds)
        if not role:
            self.add(node, "the user task is in no lane, so no role can do it",
                     "draw it inside the lane of the role that does it")
        fields = node.xpath("./bpmn:extensionElements/camunda:formData/camunda:formField",
                            namespaces=NS)
        if not fields:
            self.add(node, "the user task declares no form fields",
                     "add the fields it asks for in the modeller's Forms tab")
        for problem in forms.check_fields(fields):
            self.add(node, problem, "fix the field in the Forms tab")

    def business_rule_task(self, node: Any) -> None:
        ref = node.get(f"{CAMUNDA}decisionRef")
        known = ", ".join(sorted(self.decisions)) or "none yet"
        if not ref:
            self.add(node, "the business rule task names no decision",
                     "set Implementation 'DMN' and Decision reference to the id of a decision "
                     f"in a .dmn file beside the diagrams (decisions: {known})")
        elif ref not in self.decisions:
            self.add(node, f"uses decision {ref!r}, which no .dmn file beside the diagrams "
                     "defines", f"known decisions: {known}")
        mapping = node.get(f"{CAMUNDA}mapDecisionResult")
        variable = node.get(f"{CAMUNDA}resultVariable")
        if mapping is not None and mapping not in RESULT_MAPPINGS:
            self.add(node, f"map decision result {mapping!r} is not one of "
                     f"{', '.join(RESULT_MAPPINGS)}", "choose it in the modeller")
        if variable is not None and (not variable.isidentifier() or variable.startswith("_")):
            self.add(node, f"result variable {variable!r} is not a plain name",
                     "use letters, digits and underscores, e.g. timescale")
        if mapping == "singleEntry" and ref in self.decisions and \
                self.decisions[ref].outputs != 1:
            self.add(node, f"singleEntry needs a decision with one output; {ref!r} has "
                     f"{self.decisions[ref].outputs}", "use singleResult, or one output")
        for attribute in ("class", "expression", "delegateExpression", "topic"):
            if node.get(f"{CAMUNDA}{attribute}"):
                self.add(node, f"a business rule task implemented by {attribute} is not run "
                         "here", "use Implementation 'DMN' with a decision table")

    def gateway(self, node: Any) -> None:
        outgoing = [f for f in self.root.iter(f"{BPMN}sequenceFlow")
                    if f.get("sourceRef") == node.get("id")]
        if len(outgoing) < 2:
            return
        default = node.get("default")
        for flow in outgoing:
            if flow.get("id") != default and flow.find(f"{BPMN}conditionExpression") is None:
                self.add(flow, f"leaves gateway {node.get('id')!r} with no condition",
                         "give it a condition or make it the gateway's default flow")

    def timer(self, node: Any) -> None:
        event = node.getparent()
        values = [c for c in node if isinstance(c.tag, str)
                  and etree.QName(c).localname in ("timeDate", "timeDuration", "timeCycle")]
        if not values:
            self.add(event, "the timer has no date, duration or cycle",
                     "set the timer's type and value in the modeller")
        for value in values:
            kind = etree.QName(value).localname
            for problem in timer_problems(kind, value.text):
                self.add(event, f"timer {kind} {_shown(value.text)}: {problem}",
                         "see docs/diagrams.md, 'Deadlines are timer events'")
        props = _properties(event)
        if "deadline" in props and not props["deadline"].isidentifier():
            self.add(event, f"deadline name {props['deadline']!r} is not a plain name",
                     "use letters, digits and underscores, e.g. rag_timescale")
        if "since" in props:
            for problem in timer_problems("since", props["since"]):
                self.add(event, f"deadline start (since) {_shown(props['since'])}: {problem}",
                         "give the instant the timescale starts, e.g. received_at")

    def outcome(self, node: Any) -> None:
        value = _properties(node).get("outcome")
        if value is None:
            return
        text = value.strip()
        if text.startswith("${") and text.endswith("}"):
            self.expression(node, text[2:-1], "outcome")
        elif "${" in text or not text:
            self.add(node, f"outcome {text!r} is neither a name nor one ${{expression}}",
                     "write a name such as s47, or ${outcome} for the value of a field")


def _shown(source: str | None) -> str:
    text = (source or "").strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")


@dataclass
class DiagramSet:
    """A validated set of diagram files (and decision tables), parsed."""

    files: dict[str, bytes]
    models: dict[str, ProcessModel]
    parser: MashParser
    decisions: dict[str, Decision] = field(default_factory=dict)  # id -> its file and names
    trees: dict[str, Any] = field(default_factory=dict)  # file name -> parsed XML root
    labels: dict[str, str] = field(default_factory=dict)  # file name -> as shown to people

    def spec(self, process_id: str) -> tuple[Any, dict[str, Any]]:
        spec, subprocess_specs = (self.parser.get_spec(process_id),
                                  self.parser.get_subprocess_specs(process_id))
        for each in (spec, *subprocess_specs.values()):
            hear_instances(each)
        return spec, subprocess_specs

    def files_for(self, process_id: str) -> list[str]:
        """The files a process needs: its own and, transitively, those defining what any
        process in them calls (a file is validated whole, so all its calls must resolve),
        with the decision tables their business rule tasks use."""
        needed = {self.models[process_id].file}
        while True:
            calls = {called for model in self.models.values() if model.file in needed
                     for called in model.calls if called in self.models}
            more = {self.models[called].file for called in calls} - needed
            if not more:
                break
            needed |= more
        decisions = {self.decisions[d].file for model in self.models.values()
                     if model.file in needed for d in model.decisions if d in self.decisions}
        return sorted(needed | decisions)

    def version_hash(self, process_id: str) -> str:
        """What a process's version stands for: its own file, the definitions of the
        processes it calls (transitively) that are drawn in other files, not those files
        whole (a change elsewhere in a called process's file makes no new version of it),
        and the decision tables they use."""
        own = self.models[process_id].file
        called = self._called(process_id)
        digest = hashlib.sha256()
        digest.update(own.encode() + b"\0" + file_hash(self.files[own]).encode() + b"\0")
        for name in sorted(called):
            if self.models[name].file != own:
                digest.update(name.encode() + b"\0" + self._definition_hash(name).encode()
                              + b"\0")
        tables = {self.decisions[d].file for p in (process_id, *called)
                  for d in self.models[p].decisions if d in self.decisions}
        for name in sorted(tables):  # the decision tables it (or what it calls) uses
            digest.update(name.encode() + b"\0" + file_hash(self.files[name]).encode() + b"\0")
        return digest.hexdigest()

    def _called(self, process_id: str) -> set[str]:
        found: set[str] = set()
        todo = [process_id]
        while todo:
            for called in self.models[todo.pop()].calls:
                if called in self.models and called not in found and called != process_id:
                    found.add(called)
                    todo.append(called)
        return found

    def _definition_hash(self, process_id: str) -> str:
        """A process as it runs: its <process> element and what the definitions declare for
        it (messages, errors, signals), canonical; not the drawing, not the other processes."""
        root = read_xml(self.files[self.models[process_id].file],
                        self.models[process_id].file).getroot()
        digest = hashlib.sha256()
        for node in root:
            if not isinstance(node.tag, str) or node.tag in (f"{BPMN}collaboration",
                                                             "{" + NS["bpmndi"] + "}BPMNDiagram"):
                continue
            if node.tag == f"{BPMN}process" and node.get("id") != process_id:
                continue
            digest.update(etree.tostring(node, method="c14n"))
        return digest.hexdigest()

    def shown(self, filename: str) -> str:
        return self.labels.get(filename, filename)


def hear_instances(process_spec: Any) -> None:
    """Each multi-instance (or looping) activity hears its instances complete. SpiffWorkflow
    wires that only when it creates an instance, in the process that creates it: a version
    built afresh (a restarted service, another service, a migration) would leave an activity
    whose instances were created before waiting for ever once they are done."""
    for task_spec in process_spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child = process_spec.task_specs[task_spec.task_spec]
            if not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


def diagram_files(paths: Iterable[Path]) -> dict[str, bytes]:
    """Read the .bpmn and .dmn files named (folders: every one inside), keyed by file name."""
    files: dict[str, bytes] = {}
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.iterdir() if p.suffix in SUFFIXES):
                files[found.name] = found.read_bytes()
        else:
            files[path.name] = path.read_bytes()
    return files


def validate_files(files: dict[str, bytes], label: dict[str, str] | None = None) -> tuple[
        list[Problem], DiagramSet | None]:
    """Check every file; returns all problems, and the parsed set when there are none.
    Never raises: whatever is wrong in a file is a problem of that file."""
    label = label or {}
    try:
        return _validate(files, label)
    except Exception as err:  # a bug of ours must still come out as one line
        where = ", ".join(label.get(n, n) for n in files) or "the diagrams"
        return [Problem(where, None, None, f"could not be checked ({type(err).__name__}: "
                        f"{str(err)[:200]})", "please report this, with the files")], None


def _validate(files: dict[str, bytes], label: dict[str, str]) -> tuple[
        list[Problem], DiagramSet | None]:
    problems_found: list[Problem] = []
    trees: dict[str, Any] = {}
    dmn_roots: dict[str, Any] = {}
    models: dict[str, ProcessModel] = {}
    for name, content in files.items():
        shown = label.get(name, name)
        if len(content) > MAX_DIAGRAM_BYTES:
            problems_found.append(Problem(
                shown, None, None, f"is {len(content)} bytes; the limit is {MAX_DIAGRAM_BYTES}"))
            continue
        try:
            tree = read_xml(content, shown)
        except UnsafeXML as err:
            problems_found.append(Problem(shown, None, None, str(err).removeprefix(f"{shown}: ")))
            continue
        root = tree.getroot()
        if is_dmn(root):
            dmn_roots[name] = root
            continue
        if root.tag != f"{BPMN}definitions":
            what = "a BPMN 2.0 diagram or a DMN decision table"
            problems_found.append(Problem(shown, None, None, f"is not {what}",
                                          "save it from a BPMN or DMN modeller (.bpmn, .dmn)"))
            continue
        trees[name] = root
        for pid, model in read_models(root, name).items():
            if pid in models:
                problems_found.append(Problem(
                    shown, pid, model.name, f"process id {pid!r} is also defined in "
                    f"{label.get(models[pid].file, models[pid].file)}",
                    "give each process its own id"))
            models[pid] = model
    decisions, tables_ok = _decisions(dmn_roots, label, problems_found)
    problems_found.extend(_shared_ids(trees, label))
    known = set(models)
    flawed: set[str] = set()
    for name, root in trees.items():
        found = _Checker(label.get(name, name), root, known, decisions).run()
        if found:
            flawed.add(name)
        problems_found.extend(found)
    parser = MashParser()
    for name in tables_ok:
        try:
            parser.add_dmn_xml(dmn_roots[name], filename=name)
        except Exception as err:  # SpiffWorkflow's reader raises what it meets
            problems_found.append(_spiff_problem(label.get(name, name), err))
    for name, root in trees.items():
        shown = label.get(name, name)
        try:
            if name in flawed:  # our own checks found why SpiffWorkflow would fail; the schema
                _validator().validate(root, name)  # is still checked, for one pass
            else:
                parser.add_bpmn_xml(root, filename=name)
        except Exception as err:  # the schema, or SpiffWorkflow meeting what it cannot read
            problems_found.append(_spiff_problem(shown, err))
    if problems_found:
        return problems_found, None
    for pid in models:
        try:
            parser.get_spec(pid)
            parser.get_subprocess_specs(pid)
        except Exception as err:  # SpiffWorkflow raises plain exceptions too
            problems_found.append(_spiff_problem(label.get(models[pid].file, models[pid].file),
                                                 err, pid))
    if problems_found:
        return problems_found, None
    return [], DiagramSet(files=dict(files), models=models, parser=parser, decisions=decisions,
                          trees=trees, labels=dict(label))


def _decisions(roots: dict[str, Any], label: dict[str, str], found: list[Problem]) -> tuple[
        dict[str, Decision], list[str]]:
    """The decisions of the .dmn files, by id, and the files that can run."""
    decisions: dict[str, Decision] = {}
    runnable: list[str] = []
    for name, root in roots.items():
        shown = label.get(name, name)
        decision, _, wrong = read_decision(root, name)
        where = decision.id if decision else None
        shown_name = decision.name if decision else None
        found.extend(Problem(shown, where, shown_name, message,
                             "fix the decision table in the modeller's DMN editor")
                     for message in wrong)
        if decision is None:
            continue
        if decision.id in decisions:
            other = label.get(decisions[decision.id].file, decisions[decision.id].file)
            found.append(Problem(shown, decision.id, decision.name,
                                 f"decision id {decision.id!r} is also defined in {other}",
                                 "give each decision its own id"))
            continue
        decisions[decision.id] = decision
        if not wrong:
            runnable.append(name)
    return decisions, runnable


def _shared_ids(trees: dict[str, Any], label: dict[str, str]) -> list[Problem]:
    """Element and flow ids must be unique across all the diagrams, not only within a file:
    history, reports and coverage name elements by id alone."""
    seen: dict[str, str] = {}
    problems_found: list[Problem] = []
    for name, root in sorted(trees.items()):
        for process in root.iter(f"{BPMN}process"):
            for node in process.iter():
                # BPMN elements only: form field and enum value ids are not element ids
                if not isinstance(node.tag, str) or not node.tag.startswith(BPMN) \
                        or not node.get("id"):
                    continue
                element_id = node.get("id")
                if element_id in seen and seen[element_id] != name:
                    problems_found.append(Problem(
                        label.get(name, name), element_id, node.get("name"),
                        f"the id is also used in {label.get(seen[element_id], seen[element_id])}",
                        "give it an id of its own (ids must be unique across diagrams)"))
                seen.setdefault(element_id, name)
    return problems_found


def _spiff_problem(filename: str, err: Exception, element_id: str | None = None) -> Problem:
    if isinstance(err, ValidationException):
        message = str(getattr(err, "message", None) or err).split("\n")[0]
        line = getattr(err, "line_number", None)
        if line:
            message += f" (line {line})"
        return Problem(filename, getattr(err, "id", None) or element_id,
                       getattr(err, "name", None) or None, message,
                       "fix the diagram in the modeller")
    text = str(err).split("\n")[0] or type(err).__name__
    return Problem(filename, element_id, None, f"cannot be parsed: {text}",
                   "fix the diagram in the modeller")


def load(paths: Iterable[Path]) -> DiagramSet:
    """Validated diagrams from files or folders; raises DiagramError listing every problem."""
    paths = list(paths)
    files = diagram_files(paths)
    if not any(name.endswith(".bpmn") for name in files):
        raise DiagramError([Problem(", ".join(str(p) for p in paths), None, None,
                                    "holds no .bpmn files")])
    problems_found, diagrams = validate_files(files, labels(paths))
    if diagrams is None:
        raise DiagramError(problems_found)
    return diagrams


def labels(paths: list[Path]) -> dict[str, str]:
    """Each file as people see it: relative to the working directory when it is below it."""
    from .calendar_config import _display_name

    found: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            for item in path.iterdir():
                if item.suffix in SUFFIXES:
                    found[item.name] = _display_name(item)
        else:
            found[path.name] = _display_name(path)
    return found
