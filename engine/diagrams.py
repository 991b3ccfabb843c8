"""Loading and validating the diagrams: XML safety, the BPMN 2.0 schema, and our own checks.

`validate_files` reports every problem it finds, each naming the file, the element and what
to do, so a process owner fixes a diagram in one pass. `DiagramSet` is a validated set of
files with the parsed specs and what the engine reads from the XML beside them: each
element's role (its lane), name and extension properties, and the sequence flows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from . import forms, registry
from .bpmn.parser import MashParser, UnsafeXML, read_xml
from .bpmn.script_engine import DIAGRAM_FUNCTIONS
from .bpmn.specs import is_iso_literal
from .expressions import SAFE_BUILTIN_NAMES, ExpressionError, check

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
BPMN = "{" + NS["bpmn"] + "}"
CAMUNDA = "{" + NS["camunda"] + "}"

MAX_DIAGRAM_BYTES = 5 * 1024 * 1024
# What an expression in a diagram may call: the engine's functions and plain data builtins.
CALLABLE = frozenset(DIAGRAM_FUNCTIONS) | frozenset(
    name for name in SAFE_BUILTIN_NAMES if name not in ("True", "False", "None"))


@dataclass(frozen=True)
class Problem:
    file: str
    element_id: str | None
    element_name: str | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.element_id:
            where += f": {self.element_id}"
            if self.element_name:
                where += f' "{self.element_name}"'
        text = f"{where}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class DiagramError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


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


def _lanes(root: Any) -> tuple[dict[str, str], list[tuple[str, tuple[float, float, float, float]]]]:
    """Lane membership as written (flowNodeRef) and each lane's drawn bounds."""
    members: dict[str, str] = {}
    bounds: list[tuple[str, tuple[float, float, float, float]]] = []
    for lane in root.iter(f"{BPMN}lane"):
        name = (lane.get("name") or "").strip()
        for ref in lane.findall(f"{BPMN}flowNodeRef"):
            if ref.text:
                members[ref.text.strip()] = name
        shape = root.xpath(f".//bpmndi:BPMNShape[@bpmnElement='{lane.get('id')}']/dc:Bounds",
                           namespaces=NS)
        if shape and lane.find(f"{BPMN}childLaneSet") is None:
            b = shape[0]
            x, y, w, h = (float(b.get(k, 0)) for k in ("x", "y", "width", "height"))
            bounds.append((name, (x, y, w, h)))
    return members, bounds


def _centre(root: Any, element_id: str) -> tuple[float, float] | None:
    shape = root.xpath(f".//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds",
                       namespaces=NS)
    if not shape:
        return None
    b = shape[0]
    return float(b.get("x")) + float(b.get("width")) / 2, float(b.get("y")) + float(b.get("height")) / 2


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
        model = ProcessModel(id=process.get("id"), name=process.get("name"), file=filename)
        participant = root.xpath(f".//bpmn:participant[@processRef='{model.id}']", namespaces=NS)
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
        for start in process.findall(f"{BPMN}startEvent"):
            timer = start.find(f"{BPMN}timerEventDefinition")
            if timer is not None:
                value = next((c.text for c in timer if isinstance(c.tag, str) and c.text), None)
                model.start_timer = value.strip() if value else None
        models[model.id] = model
    return models


class _Checker:
    """Our semantic checks on one file's XML; collects problems instead of stopping."""

    def __init__(self, filename: str, root: Any, known_processes: set[str]) -> None:
        self.file = filename
        self.root = root
        self.known = known_processes
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
        try:
            check(source, mode, CALLABLE)  # type: ignore[arg-type]
        except ExpressionError as err:
            self.add(node, f"{what} {source.strip()!r}: {err}",
                     "use the task data and the engine's functions only")

    def run(self) -> list[Problem]:
        for process in self.root.iter(f"{BPMN}process"):
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
        for node in self.root.iter(f"{BPMN}sequenceFlow"):
            condition = node.find(f"{BPMN}conditionExpression")
            if condition is not None:
                self.expression(node, condition.text, "condition")
        for tag in ("exclusiveGateway", "inclusiveGateway"):
            for node in self.root.iter(f"{BPMN}{tag}"):
                self.gateway(node)
        for node in self.root.iter(f"{BPMN}timerEventDefinition"):
            event = node.getparent()
            exprs = [c for c in node if isinstance(c.tag, str)
                     and etree.QName(c).localname in ("timeDate", "timeDuration", "timeCycle")]
            if not exprs:
                self.add(event, "the timer has no date, duration or cycle",
                         "set the timer's type and value in the modeller")
            for expr in exprs:
                if expr.text and is_iso_literal(expr.text):
                    continue
                self.expression(event, expr.text, f"timer {etree.QName(expr).localname}")
            props = _properties(event)
            if "deadline" in props and not props["deadline"].isidentifier():
                self.add(event, f"deadline name {props['deadline']!r} is not a plain name",
                         "use letters, digits and underscores, e.g. rag_timescale")
            if "since" in props:
                self.expression(event, props["since"], "deadline start (since)")
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


@dataclass
class DiagramSet:
    """A validated set of diagram files, parsed."""

    files: dict[str, bytes]
    models: dict[str, ProcessModel]
    parser: MashParser

    def spec(self, process_id: str) -> tuple[Any, dict[str, Any]]:
        return self.parser.get_spec(process_id), self.parser.get_subprocess_specs(process_id)

    def files_for(self, process_id: str) -> list[str]:
        """The files a process needs: its own and, transitively, those defining what any
        process in them calls (a file is validated whole, so all its calls must resolve)."""
        needed = {self.models[process_id].file}
        while True:
            calls = {called for model in self.models.values() if model.file in needed
                     for called in model.calls if called in self.models}
            more = {self.models[called].file for called in calls} - needed
            if not more:
                return sorted(needed)
            needed |= more

    def version_hash(self, process_id: str) -> str:
        """What a process's version stands for: its own file, and the definitions of the
        processes it calls (transitively) that are drawn in other files, not those files
        whole: a change elsewhere in a called process's file makes no new version of it."""
        own = self.models[process_id].file
        digest = hashlib.sha256()
        digest.update(own.encode() + b"\0" + file_hash(self.files[own]).encode() + b"\0")
        for called in sorted(self._called(process_id)):
            if self.models[called].file != own:
                digest.update(called.encode() + b"\0" + self._definition_hash(called).encode()
                              + b"\0")
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


def diagram_files(paths: Iterable[Path]) -> dict[str, bytes]:
    """Read the .bpmn files named (folders: every .bpmn inside), keyed by file name."""
    files: dict[str, bytes] = {}
    for path in paths:
        if path.is_dir():
            for found in sorted(path.glob("*.bpmn")):
                files[found.name] = found.read_bytes()
        else:
            files[path.name] = path.read_bytes()
    return files


def validate_files(files: dict[str, bytes], label: dict[str, str] | None = None) -> tuple[
        list[Problem], DiagramSet | None]:
    """Check every file; returns all problems, and the parsed set when there are none."""
    label = label or {}
    problems: list[Problem] = []
    trees: dict[str, Any] = {}
    models: dict[str, ProcessModel] = {}
    for name, content in files.items():
        shown = label.get(name, name)
        if len(content) > MAX_DIAGRAM_BYTES:
            problems.append(Problem(shown, None, None,
                                    f"is {len(content)} bytes; the limit is {MAX_DIAGRAM_BYTES}"))
            continue
        try:
            tree = read_xml(content, shown)
        except UnsafeXML as err:
            problems.append(Problem(shown, None, None, str(err).removeprefix(f"{shown}: ")))
            continue
        root = tree.getroot()
        if root.tag != f"{BPMN}definitions":
            problems.append(Problem(shown, None, None, "is not a BPMN 2.0 diagram",
                                    "save it from a BPMN modeller as .bpmn"))
            continue
        trees[name] = tree
        for pid, model in read_models(root, name).items():
            if pid in models:
                problems.append(Problem(shown, pid, model.name,
                                        f"process id {pid!r} is also defined in "
                                        f"{label.get(models[pid].file, models[pid].file)}",
                                        "give each process its own id"))
            models[pid] = model
    problems.extend(_shared_ids(trees, label))
    known = set(models)
    for name, tree in trees.items():
        problems.extend(_Checker(label.get(name, name), tree.getroot(), known).run())
    parser = MashParser()
    for name, tree in trees.items():
        shown = label.get(name, name)
        try:
            parser.add_bpmn_xml(tree, filename=name)
        except ValidationException as err:
            problems.append(_spiff_problem(shown, err))
    if problems:
        return problems, None
    for pid in models:
        try:
            parser.get_spec(pid)
            parser.get_subprocess_specs(pid)
        except ValidationException as err:
            problems.append(_spiff_problem(label.get(models[pid].file, models[pid].file), err))
        except Exception as err:  # SpiffWorkflow raises plain exceptions on some bad input
            problems.append(Problem(label.get(models[pid].file, models[pid].file), pid, None,
                                    f"cannot be parsed: {err}"))
    if problems:
        return problems, None
    return [], DiagramSet(files=dict(files), models=models, parser=parser)


def _shared_ids(trees: dict[str, Any], label: dict[str, str]) -> list[Problem]:
    """Element and flow ids must be unique across all the diagrams, not only within a file:
    history, reports and coverage name elements by id alone."""
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for name, tree in sorted(trees.items()):
        for process in tree.getroot().iter(f"{BPMN}process"):
            for node in process.iter():
                # BPMN elements only: form field and enum value ids are not element ids
                if not isinstance(node.tag, str) or not node.tag.startswith(BPMN) \
                        or not node.get("id"):
                    continue
                element_id = node.get("id")
                if element_id in seen and seen[element_id] != name:
                    problems.append(Problem(
                        label.get(name, name), element_id, node.get("name"),
                        f"the id is also used in {label.get(seen[element_id], seen[element_id])}",
                        "give it an id of its own (ids must be unique across diagrams)"))
                seen.setdefault(element_id, name)
    return problems


def _spiff_problem(filename: str, err: ValidationException) -> Problem:
    message = str(getattr(err, "message", None) or err).split("\n")[0]
    line = getattr(err, "line_number", None)
    if line:
        message += f" (line {line})"
    return Problem(filename, getattr(err, "id", None) or None, getattr(err, "name", None) or None,
                   message, "fix the diagram in the modeller")


def load(paths: Iterable[Path]) -> DiagramSet:
    """Validated diagrams from files or folders; raises DiagramError listing every problem."""
    paths = list(paths)
    files = diagram_files(paths)
    if not files:
        raise DiagramError([Problem(", ".join(str(p) for p in paths), None, None,
                                    "holds no .bpmn files")])
    labels = _labels(paths)
    problems, diagrams = validate_files(files, labels)
    if diagrams is None:
        raise DiagramError(problems)
    return diagrams


def _labels(paths: list[Path]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            for found in path.glob("*.bpmn"):
                labels[found.name] = str(found)
        else:
            labels[path.name] = str(path)
    return labels
