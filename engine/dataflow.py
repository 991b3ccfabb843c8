"""Which names can an expression read? A data-flow analysis over every process.

A condition, a timer, a script or an outcome reads names from the task data; if no step
before it can have set a name, the expression fails at run time with a NameError (a typo:
`recieved_at`), or, if an earlier handler only left the name empty for a later decision
(`accepted`, when the form field that decided it was deleted), it quietly takes the same
branch every time. Both are found here, before a contact meets them.

Walking the sequence flows forward from each start event, the analysis knows before each
element which names are

- *present* on some path: set by the start data (a contact's fields, for the process
  contacts start), a handler (its declared `sets`/`empty`, engine/registry.py), a user
  task's form fields (every field is recorded, a left-out one as None), a script's
  assignments, a decision table's outputs, a message's payload (under its name), a deadline
  timer that fired (`breached_deadline`, `breached_due`), a multi-instance element variable,
  or a called process / sub-process (all their data comes back);
- *present on every path* (parallel branches all arrive at a parallel join; a loop counts
  its first pass);
- *given a value* on some path (not only left empty by a handler's `empty`).

How strict (docs/diagrams.md, "What validate checks"): reading a name that is present on no
path is an error, naming the element, the name and the nearest known name ("did you mean
`received_at`?"); reading a name that only a handler's placeholder set (never a value) is an
error; reading a name present on some paths only is a warning (it fails on the others).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from . import registry
from .diagrams import BPMN, CAMUNDA, NS, DiagramSet
from .expression_checks import problems as expression_problems
from .expression_checks import reads, script_names
from .problems import Problem

# Names the engine itself puts in the data.
DEADLINE_NAMES = ("breached_deadline", "breached_due")  # after a deadline timer fires
SCHEDULED_NAMES = ("scheduled_at",)  # a process started by its timer start event


@dataclass(frozen=True)
class Fact:
    """What is known of the task data at a point: see the module's docstring."""

    present: frozenset[str] = frozenset()
    every: frozenset[str] = frozenset()
    valued: frozenset[str] = frozenset()
    emptied_by: tuple[tuple[str, str], ...] = ()  # (name, handler topic) placeholders seen

    def either(self, other: Fact) -> Fact:
        """One path or the other."""
        return Fact(self.present | other.present, self.every & other.every,
                    self.valued | other.valued, _union(self.emptied_by, other.emptied_by))

    def both(self, other: Fact) -> Fact:
        """Both paths (parallel branches meeting at a parallel join, or a called process's
        data added to the caller's)."""
        return Fact(self.present | other.present, self.every | other.every,
                    self.valued | other.valued, _union(self.emptied_by, other.emptied_by))

    def sets(self, names: Iterable[str]) -> Fact:
        names = frozenset(names)
        return Fact(self.present | names, self.every | names, self.valued | names,
                    self.emptied_by)

    def empties(self, names: Iterable[str], by: str) -> Fact:
        names = frozenset(names)
        return Fact(self.present | names, self.every | names, self.valued,
                    _union(self.emptied_by, tuple((n, by) for n in sorted(names))))

    def maybe(self, names: Iterable[str]) -> Fact:
        names = frozenset(names)
        return Fact(self.present | names, self.every, self.valued | names, self.emptied_by)


def _union(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return a if not b or set(b) <= set(a) else tuple(sorted(set(a) | set(b)))


def start_data() -> dict[str, Fact]:
    """What the engine's entry points put in the data of the processes they start: a contact
    (POST /contacts, `mash simulate`) for first response, a disagreement for escalation."""
    from handlers.intake import TOP_FIELDS

    from .simulation.runner import CONTACT_PROCESS, DISAGREEMENT_PROCESS

    required = ("channel", "concerns")  # refused without them: handlers/intake.py
    return {
        CONTACT_PROCESS: Fact().sets(required).maybe(set(TOP_FIELDS) - set(required)),
        DISAGREEMENT_PROCESS: Fact().sets(("raised_at", "about", "summary",
                                           "informal_attempt_failed")).maybe(("raised_by",)),
    }


@dataclass
class _Node:
    id: str
    tag: str
    xml: Any
    file: str
    process: str
    scope: str  # the id of the process or sub-process it is drawn in
    sources: list[str] = field(default_factory=list)  # where its incoming flows come from
    asserts: list[frozenset[str]] = field(default_factory=list)  # what each flow's condition
    # shows has a value (`x`, `x is not None`, `x == "a"`), source by source


@dataclass
class _Scope:
    id: str
    process: str
    starts: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)


@dataclass
class _Read:
    """An expression reading names at a point of a process."""

    at: str  # the node whose facts apply
    after: bool  # after the node (a gateway's outgoing condition) or before it
    xml: Any  # the element the problem names
    file: str
    what: str
    names: set[str]
    adds: frozenset[str] = frozenset()  # names the element itself provides (its form)
    lenient: bool = False  # a form's default value: a name not there yet only leaves it blank


class _Analysis:
    def __init__(self, diagrams: DiagramSet, entries: dict[str, Fact]) -> None:
        self.diagrams = diagrams
        self.entries = entries
        self.nodes: dict[str, _Node] = {}
        self.scopes: dict[str, _Scope] = {}
        self.reads: list[_Read] = []
        self.before: dict[str, Fact] = {}
        self.after: dict[str, Fact] = {}
        self.known: set[str] = set()  # every name anything sets anywhere: for suggestions
        self.together: dict[str, frozenset[str]] = {}
        for name, root in diagrams.trees.items():
            for process in root.iter(f"{BPMN}process"):
                self._scope(process, name, process.get("id"))

    # -- the graph ------------------------------------------------------------------------

    def _scope(self, container: Any, file: str, process: str) -> None:
        scope = _Scope(container.get("id"), process)
        self.scopes[scope.id] = scope
        flows = []
        for child in container:
            if not isinstance(child.tag, str) or not child.tag.startswith(BPMN):
                continue
            local = etree.QName(child).localname
            if local == "sequenceFlow":
                flows.append(child)
            elif child.get("id") and local not in ("laneSet", "documentation",
                                                   "extensionElements", "textAnnotation",
                                                   "association", "dataObject",
                                                   "dataObjectReference"):
                self.nodes[child.get("id")] = _Node(child.get("id"), local, child, file, process,
                                                    scope.id)
                if local == "startEvent":
                    scope.starts.append(child.get("id"))
                elif local == "endEvent":
                    scope.ends.append(child.get("id"))
                elif local == "subProcess":
                    self._scope(child, file, process)
        for flow in flows:
            target = self.nodes.get(flow.get("targetRef") or "")
            condition = flow.find(f"{BPMN}conditionExpression")
            if target is not None and flow.get("sourceRef") in self.nodes:
                target.sources.append(flow.get("sourceRef"))
                target.asserts.append(_asserted(condition.text if condition is not None else None))
            if condition is not None and flow.get("sourceRef") in self.nodes:
                self._expression(flow.get("sourceRef"), True, flow, file, "condition",
                                 condition.text)

    # -- what each element reads and sets ---------------------------------------------------

    def collect_reads(self) -> None:
        for node in self.nodes.values():
            xml, tag = node.xml, node.tag
            if tag == "scriptTask":
                script = xml.find(f"{BPMN}script")
                tree, found = expression_problems(script.text if script is not None else None,
                                                  "exec")
                if tree is not None and not found:
                    self.reads.append(_Read(node.id, False, xml, node.file, "script",
                                            script_names(tree)[0]))
            elif tag == "userTask":
                fields = frozenset(_form_fields(xml))
                for form_field in xml.xpath(
                        "./bpmn:extensionElements/camunda:formData/camunda:formField", namespaces=NS):
                    default = (form_field.get("defaultValue") or "").strip()
                    if default.startswith("${") and default.endswith("}"):
                        self._expression(node.id, False, xml, node.file,
                                         f"form field {form_field.get('id')!r} default value",
                                         default[2:-1], lenient=True)
                    for prop in form_field.iter(f"{CAMUNDA}property"):
                        if prop.get("id") in ("required_when", "valid_when"):
                            self._expression(node.id, False, xml, node.file,
                                             f"form field {form_field.get('id')!r} "
                                             f"{prop.get('id')}", prop.get("value"), fields)
            elif tag == "businessRuleTask":
                decision = self.diagrams.decisions.get(xml.get(f"{CAMUNDA}decisionRef") or "")
                if decision is not None:
                    self.reads.append(_Read(node.id, False, xml, node.file,
                                            f"decision {decision.id!r}", set(decision.reads)))
            elif tag == "endEvent":
                outcome = _properties(xml).get("outcome", "").strip()
                if outcome.startswith("${") and outcome.endswith("}"):
                    self._expression(node.id, False, xml, node.file, "outcome", outcome[2:-1])
            loop = xml.find(f"{BPMN}multiInstanceLoopCharacteristics")
            if loop is not None and loop.get(f"{CAMUNDA}collection"):
                self.reads.append(_Read(node.id, False, xml, node.file, "multi-instance collection",
                                        {loop.get(f"{CAMUNDA}collection")}))
            timer = xml.find(f"{BPMN}timerEventDefinition")
            if timer is not None and tag != "startEvent":
                # a boundary timer is set when its activity starts, with the data it has then
                at = xml.get("attachedToRef") if tag == "boundaryEvent" else node.id
                if at in self.nodes:
                    for value in timer:
                        if isinstance(value.tag, str) and value.text and \
                                etree.QName(value).localname in ("timeDate", "timeDuration",
                                                                 "timeCycle"):
                            self._expression(at, False, xml, node.file,
                                             f"timer {etree.QName(value).localname}", value.text)
                    since = _properties(xml).get("since")
                    if since:
                        self._expression(at, False, xml, node.file, "deadline start (since)", since)

    def _expression(self, at: str, after: bool, xml: Any, file: str, what: str,
                    source: str | None, adds: frozenset[str] = frozenset(),
                    lenient: bool = False) -> None:
        from .bpmn.specs import is_iso_literal, meant_as_iso

        if source is None or is_iso_literal(source) or meant_as_iso(source):
            return
        tree, found = expression_problems(source)
        if tree is not None and not found:
            self.reads.append(_Read(at, after, xml, file, what, reads(tree), adds, lenient))

    def transfer(self, node: _Node, fact: Fact) -> Fact:
        """The data after an element, from the data before it."""
        xml, tag = node.xml, node.tag
        if tag == "userTask":
            return fact.sets(_form_fields(xml))
        if tag == "serviceTask":
            topic = xml.get(f"{CAMUNDA}topic") or ""
            outputs = registry.outputs(topic)
            return fact.sets(outputs.sets).empties(outputs.empty, topic)
        if tag == "scriptTask":
            script = xml.find(f"{BPMN}script")
            tree, found = expression_problems(script.text if script is not None else None, "exec")
            return fact.sets(script_names(tree)[1]) if tree is not None and not found else fact
        if tag == "businessRuleTask":
            if xml.get(f"{CAMUNDA}resultVariable"):  # Camunda's way: the result in one name
                return fact.sets([xml.get(f"{CAMUNDA}resultVariable")])
            decision = self.diagrams.decisions.get(xml.get(f"{CAMUNDA}decisionRef") or "")
            return fact.sets(decision.sets) if decision is not None else fact
        if tag in ("intermediateCatchEvent", "boundaryEvent", "receiveTask"):
            return fact.sets(self._caught(xml))
        if tag == "subProcess":
            loop = xml.find(f"{BPMN}multiInstanceLoopCharacteristics")
            if loop is not None:  # each instance's data stays its own; the collection comes back
                collection = loop.get(f"{CAMUNDA}collection")
                return fact.sets([collection]) if collection else fact
            ended = self._ends(node.id)
            return fact.both(ended) if ended is not None else fact
        if tag == "callActivity":
            called = xml.get("calledElement") or ""
            ended = self._ends(called) if called in self.scopes else None
            return fact.both(ended) if ended is not None else fact
        return fact

    def _taken(self, fact: Fact, asserted: frozenset[str]) -> Fact:
        """The data along a flow whose condition shows names have values: a step that gives
        such a name a value ran, so whatever every such step sets is there too (the resume
        path `strategy_discussion is not None` had the whole risk assessment form)."""
        for name in asserted:
            together = self.together.get(name)
            if together is not None and name in fact.present:
                fact = fact.sets(together | {name})
        return fact

    def _co_set(self) -> None:
        """For each name, what every step giving it a value sets with it."""
        gives: dict[str, list[frozenset[str]]] = {}
        for node in self.nodes.values():
            given = self.transfer(node, Fact()).valued
            for name in given:
                gives.setdefault(name, []).append(given)
        for fact in self.entries.values():
            for name in fact.valued:
                gives.setdefault(name, []).append(fact.every & fact.valued)
        self.together = {name: frozenset.intersection(*sets) for name, sets in gives.items()}

    def _caught(self, xml: Any) -> set[str]:
        names: set[str] = set()
        for message in xml.findall(f"{BPMN}messageEventDefinition"):
            found = self._message_name(message.get("messageRef"))
            if found:
                names.add(found)
        if xml.find(f"{BPMN}timerEventDefinition") is not None and "deadline" in _properties(xml):
            names.update(DEADLINE_NAMES)
        return names

    def _message_name(self, ref: str | None) -> str | None:
        for root in self.diagrams.trees.values():
            for message in root.iter(f"{BPMN}message"):
                if message.get("id") == ref:
                    return message.get("name") or ref
        return ref

    def _ends(self, scope_id: str) -> Fact | None:
        facts = [self.after[e] for e in self.scopes[scope_id].ends if e in self.after]
        return _either(facts)

    # -- the fixpoint -----------------------------------------------------------------------

    def _entry(self, scope: _Scope) -> Fact | None:
        """The data a scope's start events begin with."""
        owner = self.nodes.get(scope.id)
        if owner is not None:  # an embedded sub-process: the data it was reached with
            fact = self.before.get(owner.id)
            loop = owner.xml.find(f"{BPMN}multiInstanceLoopCharacteristics")
            if fact is not None and loop is not None and loop.get(f"{CAMUNDA}elementVariable"):
                fact = fact.sets([loop.get(f"{CAMUNDA}elementVariable")])
            return fact
        facts = [self.before[n.id] for n in self.nodes.values()
                 if n.tag == "callActivity" and n.xml.get("calledElement") == scope.id
                 and n.id in self.before]
        if scope.id in self.entries:
            facts.append(self.entries[scope.id])
        starts = [self.nodes[s].xml for s in scope.starts]
        if any(s.find(f"{BPMN}timerEventDefinition") is not None for s in starts):
            facts.append(Fact().sets(SCHEDULED_NAMES))
        declared = [f for s in starts for f in _form_fields(s)]
        if declared:
            facts.append(Fact().sets(declared))
        if not facts and not any(n.tag == "callActivity" and n.xml.get("calledElement") == scope.id
                                 for n in self.nodes.values()):
            facts.append(Fact())  # started with no data the diagrams can know of
        return _either(facts)

    def solve(self) -> None:
        self._co_set()
        for _ in range(200):
            changed = False
            for node in self.nodes.values():
                if node.tag == "startEvent":
                    fact = self._entry(self.scopes[node.scope])
                elif node.tag == "boundaryEvent":
                    fact = self.before.get(node.xml.get("attachedToRef") or "")
                else:
                    incoming = [self._taken(self.after[s], shown)
                                for s, shown in zip(node.sources, node.asserts, strict=True)
                                if s in self.after]
                    parallel = node.tag == "parallelGateway" and len(node.sources) > 1
                    if parallel and len(incoming) == len(node.sources):
                        fact = incoming[0]
                        for other in incoming[1:]:
                            fact = fact.both(other)
                    else:
                        fact = _either(incoming)
                if fact is None:
                    continue
                after = self.transfer(node, fact)
                if self.before.get(node.id) != fact or self.after.get(node.id) != after:
                    self.before[node.id], self.after[node.id] = fact, after
                    changed = True
            if not changed:
                return

    # -- the verdict ------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        for fact in self.after.values():
            self.known |= fact.present
        found: list[Problem] = []
        for read in self.reads:
            reached = (self.after if read.after else self.before).get(read.at)
            if reached is None:
                continue  # never reached: the dry run reports flows never taken
            fact = reached.sets(read.adds)
            shown = self.diagrams.shown(read.file)
            for name in sorted(read.names):
                if name not in fact.present:
                    found.append(Problem(shown, read.xml.get("id"), read.xml.get("name"),
                                         f"{read.what} reads {name!r}, which nothing before "
                                         "it sets", self._suggest(name, fact)))
                elif read.lenient:
                    continue  # shown blank until the name has a value: not a failure
                elif name not in fact.valued:
                    by = sorted({topic for n, topic in fact.emptied_by if n == name})
                    found.append(Problem(
                        shown, read.xml.get("id"), read.xml.get("name"),
                        f"{read.what} reads {name!r}, which is only ever empty here: "
                        f"{', '.join(by) or 'a handler'} leaves it empty for a later step, and "
                        "no step before this one gives it a value",
                        f"add the form field {name!r} back to the task that decides it, or "
                        "read another name"))
                elif name not in fact.every:
                    found.append(Problem(
                        shown, read.xml.get("id"), read.xml.get("name"),
                        f"{read.what} reads {name!r}, which is not set on every path to here",
                        "set it on every path (e.g. a form field, or a handler's output), or "
                        "move the expression", warning=True))
        return found

    def _suggest(self, name: str, fact: Fact) -> str:
        close = difflib.get_close_matches(name, sorted(fact.present), n=1, cutoff=0.6) or \
            difflib.get_close_matches(name, sorted(self.known), n=1, cutoff=0.6)
        if close:
            return f"did you mean {close[0]!r}?"
        return "set it in an earlier step (a form field, a handler's output, a script) or " \
               "check the spelling"


def _asserted(condition: str | None) -> frozenset[str]:
    """Names a condition can only hold with a value: `x`, `x is not None`, `x == "a"`,
    `x in ("a", "b")`, and those of each part of an `and`."""
    if not condition:
        return frozenset()
    tree, found = expression_problems(condition)
    if tree is None or found:
        return frozenset()
    return frozenset(_valued(tree.body if isinstance(tree, ast.Expression) else tree))


def _valued(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return set().union(*(_valued(v) for v in node.values))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name):
        op, right = node.ops[0], node.comparators[0]
        is_none = isinstance(right, ast.Constant) and right.value is None
        if isinstance(op, ast.IsNot | ast.NotEq) and is_none:
            return {node.left.id}
        if isinstance(op, ast.Eq | ast.In) and not is_none and isinstance(
                right, ast.Constant | ast.Tuple | ast.List | ast.Set):
            return {node.left.id}
    return set()


def _either(facts: list[Fact]) -> Fact | None:
    if not facts:
        return None
    fact = facts[0]
    for other in facts[1:]:
        fact = fact.either(other)
    return fact


def _form_fields(xml: Any) -> list[str]:
    return [f.get("id") for f in xml.xpath(
        "./bpmn:extensionElements/camunda:formData/camunda:formField", namespaces=NS)
        if f.get("id")]


def _properties(xml: Any) -> dict[str, str]:
    return {p.get("name"): p.get("value") or "" for p in xml.xpath(
        "./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)
        if p.get("name")}


def check(diagrams: DiagramSet, entries: dict[str, Fact] | None = None) -> list[Problem]:
    """Every name read that cannot have been set (errors) or is not always set (warnings)."""
    analysis = _Analysis(diagrams, start_data() if entries is None else entries)
    analysis.collect_reads()
    analysis.solve()
    return analysis.problems()


def names_before(diagrams: DiagramSet, element_id: str) -> Fact | None:
    """What is known of the data before an element (for tests and tools)."""
    analysis = _Analysis(diagrams, start_data())
    analysis.solve()
    return analysis.before.get(element_id)


__all__ = ["Fact", "check", "names_before", "start_data"]
