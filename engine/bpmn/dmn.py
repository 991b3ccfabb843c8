"""Business rule tasks run DMN decision tables (Camunda Modeler's DMN editor), safely.

A `businessRuleTask` with `camunda:decisionRef` = a decision's id runs the decision table in
the `.dmn` file beside the diagrams: its rules are matched against the task data and the
outputs of the matching rule are added to the data. Every cell is a diagram expression,
run by the engine's safe expressions (engine/expressions.py) with the engine's functions:

- an input (`rag`) is an expression over the task data;
- an input entry tests the input's value: `"RED"` (equal to), `"RED", "AMBER"` (one of),
  `< 4`, `>= 2`, `in ("A", "B")`, `!= "GREEN"` (compared with it), `? > 2 and ? < 5`
  (`?` stands for the value), `-` or empty (anything);
- an output entry is an expression (`working_hours(4, since=opened_at)`, `"s47"`, `16`);
- hit policy UNIQUE (exactly one rule must match: two matching rules are an error, as in
  Camunda), FIRST (the first that matches) or COLLECT (every match, as lists).

No matching rule is an error, never an empty answer: a table with a gap would otherwise
leave its outputs unset and the process would go wrong later, quietly.
"""

from __future__ import annotations

import ast
import re
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.DMNParser import DMNParser
from SpiffWorkflow.dmn.specs.model import DecisionTable

from ..expressions import ExpressionError, check

DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
)
HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
INPUT = "dmninputexpr"  # what `?` becomes in an input entry
_QUESTION = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")  # a ? outside quotes


class DecisionError(ValueError):
    """A decision table that cannot give an answer for the task's data."""


def is_dmn(root: Any) -> bool:
    return any(root.tag == f"{{{ns}}}definitions" for ns in DMN_NAMESPACES)


def namespaces(root: Any) -> dict[str, str]:
    found = {k: v for k, v in root.nsmap.items() if k is not None}
    found["dmn"] = etree.QName(root).namespace or DMN_NAMESPACES[-1]
    return found


def runnable(root: Any) -> Any:
    """A copy of a DMN document without what SpiffWorkflow's reader cannot take: comments,
    and the annotation column Camunda Modeler may add (notes for people, not rules)."""
    copy = deepcopy(root)
    etree.strip_tags(copy, etree.Comment)
    for node in list(copy.iter()):
        if isinstance(node.tag, str) and etree.QName(node).localname in ("annotation",
                                                                           "annotationEntry"):
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)
    return copy


@lru_cache(maxsize=4096)
def entry_test(entry: str) -> tuple[str, str]:
    """How an input entry tests the input: ("any", ""), ("value", expr: equal to it),
    ("one_of", expr: one of it), ("compare", text: the value then this), or
    ("expression", expr: with ? for the value). Raises ExpressionError if it is none."""
    text = (entry or "").strip()
    if text in ("", "-"):
        return "any", ""
    if _QUESTION.search(text):
        replaced = _QUESTION.sub(INPUT, text)
        check(replaced)
        return "expression", replaced
    try:
        tree = check(text)
    except ExpressionError:
        try:
            check(f"{INPUT} {text}")
        except ExpressionError:
            raise ExpressionError(
                f"{text!r} is neither a value (\"RED\", 4), a list of values (\"RED\", "
                "\"AMBER\") nor a comparison (< 4, != \"GREEN\")") from None
        return "compare", text
    body = tree.body if isinstance(tree, ast.Expression) else tree
    return ("one_of" if isinstance(body, ast.Tuple) else "value"), text


class MashDMNEngine(DMNEngine):
    """SpiffWorkflow's decision table, its cells run as the engine's safe expressions."""

    def __init__(self, decision_table: DecisionTable, decision_id: str = "") -> None:
        super().__init__(decision_table)
        self.decision_id = decision_id

    def decide(self, task: Any) -> list[Any]:
        table = self.decision_table
        policy = str(table.hit_policy).upper()
        matched = []
        for rule in table.rules:
            if self._matches(rule, task):
                matched.append(rule)
                if policy == "FIRST":
                    break
        if not matched and policy != "COLLECT":
            inputs = ", ".join(i.expression or i.label or "?" for i in table.inputs)
            raise DecisionError(f"no rule of decision {self.decision_id!r} matches its inputs "
                                f"({inputs}); add a rule for them, or a last rule of - for all")
        if policy == "UNIQUE" and len(matched) > 1:
            rows = " and ".join(str(r.row_number) for r in matched)
            raise DecisionError(f"rules {rows} of decision {self.decision_id!r} both match; a "
                                "UNIQUE table needs exactly one (or use hit policy FIRST)")
        return matched

    def _matches(self, rule: Any, task: Any) -> bool:
        engine = task.workflow.script_engine
        for entry in rule.inputEntries:
            for text in entry.lhs:
                kind, test = entry_test(text)
                if kind == "any":
                    continue
                value = entry.input.expression
                try:
                    if kind == "expression":
                        context = {INPUT: engine.evaluate(task, value)}
                        ok = engine.evaluate(task, test, external_context=context)
                    elif kind == "compare":
                        ok = engine.evaluate(task, f"({value}) {test}")
                    elif kind == "one_of":
                        ok = engine.evaluate(task, f"({value}) in ({test})")
                    else:
                        ok = engine.evaluate(task, f"({value}) == ({test})")
                except WorkflowTaskException as err:
                    err.add_note(f"decision {self.decision_id!r}, rule {rule.row_number}")
                    raise
                if not ok:
                    return False
        return True


def as_expression(table: DecisionTable, output: str) -> str | None:
    """One output of a decision table as a single expression over the same data (the first
    matching rule's cell): `working_hours(4, since=rag_since) if (rag) == ("RED") else ...`.
    For readers that need what a timer fed by the table will compute (which clock a deadline
    counts), not for running it. None if the table has no such output."""
    branches: list[tuple[str, str]] = []
    for rule in table.rules:
        cell = next((e.text for e in rule.outputEntries if e.output.name == output), None)
        if cell is None:
            return None
        tests = []
        for entry in rule.inputEntries:
            for text in entry.lhs:
                kind, test = entry_test(text)
                value = entry.input.expression
                if kind == "compare":
                    tests.append(f"({value}) {test}")
                elif kind == "one_of":
                    tests.append(f"({value}) in ({test})")
                elif kind == "value":
                    tests.append(f"({value}) == ({test})")
                elif kind == "expression":
                    tests.append(f"({test.replace(INPUT, f'({value})')})")
        branches.append((" and ".join(tests) or "True", cell.strip() or "None"))
    if not branches:
        return None
    found = "None"
    for test, cell in reversed(branches):
        found = f"({cell}) if ({test}) else ({found})"
    return found


# Camunda's `mapDecisionResult`: how the matched rules' outputs go into `resultVariable`.
RESULT_MAPPINGS = ("singleEntry", "singleResult", "collectEntries", "resultList")


class MashBusinessRuleTask(BusinessRuleTask):
    """A business rule task. With no `camunda:resultVariable` the outputs of the matching
    rule are added to the data under their names; with one, the result goes into that
    variable as Camunda maps it (`camunda:mapDecisionResult`, default resultList): the one
    output's value (singleEntry), the matching rule's outputs (singleResult), each matching
    rule's one output (collectEntries), or each matching rule's outputs (resultList)."""

    def __init__(self, wf_spec: Any, bpmn_id: str, dmnEngine: Any,  # SpiffWorkflow's name
                 result_variable: str | None = None, mapping: str = "resultList",
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, dmnEngine, **kwargs)
        self.result_variable = result_variable
        self.mapping = mapping

    def _run_hook(self, my_task: Any) -> bool:
        if not self.result_variable:
            return bool(super()._run_hook(my_task))
        results = [rule.output_as_dict(my_task) for rule in self.dmnEngine.decide(my_task)]
        if self.mapping == "singleEntry":
            if len(results) != 1 or len(results[0]) != 1:
                raise DecisionError(f"decision {self.dmnEngine.decision_id!r} gave "
                                    f"{len(results)} rules' outputs; singleEntry needs one output "
                                    "of one rule")
            value: Any = next(iter(results[0].values()))
        elif self.mapping == "singleResult":
            if len(results) != 1:
                raise DecisionError(f"decision {self.dmnEngine.decision_id!r} matched "
                                    f"{len(results)} rules; singleResult needs one")
            value = dict(results[0])
        elif self.mapping == "collectEntries":
            value = [next(iter(r.values())) for r in results if r]
        else:
            value = [dict(r) for r in results]
        my_task.data[self.result_variable] = value
        return True


@dataclass
class Decision:
    """What validation and the data-flow analysis need of a decision."""

    id: str
    name: str
    file: str
    reads: set[str] = field(default_factory=set)
    sets: set[str] = field(default_factory=set)
    outputs: int = 0


def read_decision(root: Any, filename: str) -> tuple[Decision | None, DecisionTable | None, list[str]]:
    """A DMN file's one decision and its table, or the problems that stop it running."""
    from ..expression_checks import problems as expression_problems
    from ..expression_checks import reads

    root = runnable(root)
    nsmap = namespaces(root)
    decisions = root.findall("dmn:decision", namespaces=nsmap)
    if len(decisions) != 1:
        return None, None, [f"has {len(decisions)} decisions; put each decision (one decision "
                            "table) in a .dmn file of its own"]
    tables = decisions[0].findall("dmn:decisionTable", namespaces=nsmap)
    if len(tables) != 1:
        return None, None, ["the decision has no decision table; only decision tables run here"]
    try:
        parser = DMNParser(None, root, nsmap, filename=filename)
        parser.parse()
    except Exception as err:  # SpiffWorkflow's own parser: ValidationException, KeyError, ...
        message = str(getattr(err, "message", None) or err) or type(err).__name__
        return None, None, [f"cannot be read: {message.splitlines()[0]}"]
    table = parser.decision.decisionTables[0]
    decision = Decision(parser.decision.id, parser.decision.name or parser.decision.id, filename)
    found: list[str] = []
    if str(table.hit_policy).upper() not in HIT_POLICIES:
        found.append(f"hit policy {table.hit_policy} is not run here; use "
                     f"{', '.join(HIT_POLICIES)}")
    if not table.rules:
        found.append("the decision table has no rules")
    for column, put in enumerate(table.inputs, start=1):
        tree, wrong = expression_problems(put.expression)
        found.extend(f"input {column} ({put.label or put.expression}): {p}" for p in wrong)
        if tree is not None:
            decision.reads |= reads(tree)
    decision.outputs = len(table.outputs)
    for column, out in enumerate(table.outputs, start=1):
        name = out.name or out.label
        if not name or not all(part.isidentifier() and not part.startswith("_")
                               for part in name.split(".")):
            found.append(f"output {column} has name {name!r}; give it a plain name (Output "
                         "name), e.g. rag_timescale")
        else:
            decision.sets.add(name.split(".")[0])
    for rule in table.rules:
        for entry in rule.inputEntries:
            for text in entry.lhs:
                try:
                    kind, test = entry_test(text)
                except ExpressionError as err:
                    found.append(f"rule {rule.row_number}, input {entry.input.label or ''}: {err}")
                    continue
                if kind != "any":
                    decision.reads |= reads(check(test if kind != "compare"
                                                  else f"{INPUT} {test}")) - {INPUT}
        for entry in rule.outputEntries:
            if not (entry.text or "").strip():
                found.append(f"rule {rule.row_number}, output {entry.output.name}: is empty; "
                             "write its value (\"s47\", 16, working_hours(4))")
                continue
            tree, wrong = expression_problems(entry.text)
            found.extend(f"rule {rule.row_number}, output {entry.output.name}: {p}" for p in wrong)
            if tree is not None:
                decision.reads |= reads(tree)
    return decision, table, found
