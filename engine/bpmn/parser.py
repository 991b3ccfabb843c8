"""Parsing diagrams for the engine: SpiffWorkflow's Camunda parser, with our specs wired in.

The XML is read by our own lxml parser (no entities, no DTD, no network) and handed to
SpiffWorkflow as a tree, so a hostile file cannot reach the file system or the network.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    CallActivity,
    IntermediateCatchEvent,
    ManualTask,
    NoneTask,
    StartEvent,
)
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import (
    CAMUNDA_MODEL_NS,
    BusinessRuleTaskParser,
    CallActivityParser,
    CamundaTaskParser,
    SubWorkflowParser,
    UserTaskParser,
)
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS

from .dmn import MashBusinessRuleTask, MashDMNEngine, runnable
from .specs import TIMER_CLASSES, HandlerTask

CAMUNDA = f"{{{CAMUNDA_MODEL_NS}}}"


class UnsafeXML(ValueError):
    """The file is not plain BPMN XML: a DTD, entities or not XML at all."""


def read_xml(content: bytes, filename: str) -> etree._ElementTree:
    """Parse a diagram without entity expansion, DTDs or network access."""
    if b"<!DOCTYPE" in content[:4096].upper():
        raise UnsafeXML(_DOCTYPE.format(filename=filename))
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False,
    )
    try:
        tree = etree.ElementTree(etree.fromstring(content, parser))
    except etree.XMLSyntaxError as err:
        raise UnsafeXML(f"{filename}: not well-formed XML: {err.msg} (line {err.lineno})") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # type: ignore[attr-defined]
        raise UnsafeXML(_DOCTYPE.format(filename=filename))
    return tree


_DOCTYPE = ("{filename}: has a DOCTYPE declaration; BPMN files never need one and it is "
            "refused for safety (entities can read files or exhaust memory). Save the diagram "
            "again from the modeller.")


def _direct_properties(parser: Any) -> dict[str, str]:
    """camunda:property pairs of this element only (SpiffWorkflow's `.//` also collects the
    properties of everything nested inside a sub-process)."""
    nodes = parser.xpath("./bpmn:extensionElements/camunda:properties/camunda:property")
    return {node.get("name"): node.get("value") for node in nodes}


class _OwnPropertiesMixin:
    def parse_extensions(self, node: Any = None) -> dict[str, str]:
        return _direct_properties(self)


class _ClockTimerMixin(_OwnPropertiesMixin):
    def parse_timer_event(self, event: Any) -> Any:
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        ours = TIMER_CLASSES[type(definition)]
        return ours(definition.name, definition.expression, description=definition.description)


class StartEventParser(_ClockTimerMixin, CamundaStartEventParser):
    pass


class IntermediateCatchEventParser(_ClockTimerMixin, CamundaIntermediateCatchEventParser):
    pass


class BoundaryEventParser(_ClockTimerMixin, CamundaBoundaryEventParser):
    pass


class ServiceTaskParser(_OwnPropertiesMixin, TaskParser):
    def create_task(self) -> HandlerTask:
        topic = self.node.get(f"{CAMUNDA}topic")
        return HandlerTask(self.spec, self.bpmn_id, topic=topic, **self.bpmn_attributes)


class OwnUserTaskParser(_OwnPropertiesMixin, UserTaskParser):
    pass


class OwnTaskParser(_OwnPropertiesMixin, CamundaTaskParser):
    pass


class OwnSubWorkflowParser(_OwnPropertiesMixin, SubWorkflowParser):
    pass


class OwnCallActivityParser(_OwnPropertiesMixin, CallActivityParser):
    pass


class OwnBusinessRuleTaskParser(_OwnPropertiesMixin, BusinessRuleTaskParser):
    def create_task(self) -> MashBusinessRuleTask:
        decision_ref = self.get_decision_ref(self.node)
        return MashBusinessRuleTask(
            self.spec, self.bpmn_id,
            dmnEngine=self.process_parser.parser.get_engine(decision_ref, self.node),
            result_variable=self.node.get(f"{CAMUNDA}resultVariable") or None,
            mapping=self.node.get(f"{CAMUNDA}mapDecisionResult") or "resultList",
            **self.bpmn_attributes)


class MashParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, HandlerTask),
        full_tag("userTask"): (OwnUserTaskParser, UserTask),
        full_tag("task"): (OwnTaskParser, NoneTask),
        full_tag("manualTask"): (OwnTaskParser, ManualTask),
        full_tag("subProcess"): (OwnSubWorkflowParser, CallActivity),
        full_tag("callActivity"): (OwnCallActivityParser, CallActivity),
        full_tag("businessRuleTask"): (OwnBusinessRuleTaskParser, MashBusinessRuleTask),
        full_tag("startEvent"): (StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (IntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (BoundaryEventParser, BoundaryEvent),
    }

    validator: Any  # BpmnParser's; set aside while SpiffWorkflow reads a DMN file

    def __init__(self) -> None:
        super().__init__(validator=_validator())

    def add_dmn_xml(self, node: Any, filename: str | None = None) -> None:
        """A DMN file, checked against its schema (the validator made once per version of
        DMN) and read without what SpiffWorkflow's reader cannot take (comments,
        annotation columns)."""
        schema = DMN_SCHEMAS.get(etree.QName(node).namespace or "")
        if schema is not None:
            if schema not in _DMN_VALIDATORS:
                _DMN_VALIDATORS[schema] = BpmnValidator(schema)
            _DMN_VALIDATORS[schema].validate(node, filename)
        validator, self.validator = self.validator, None
        try:
            super().add_dmn_xml(runnable(node), filename)
        finally:
            self.validator = validator

    def get_engine(self, decision_ref: str, node: Any) -> MashDMNEngine:
        if decision_ref not in self.dmn_parsers:
            raise ValidationException(f"no .dmn file defines decision {decision_ref!r}",
                                      node=node, file_name="")
        dmn_parser = self.dmn_parsers[decision_ref]
        dmn_parser.parse()
        return MashDMNEngine(dmn_parser.decision.decisionTables[0], decision_ref)


_VALIDATOR: BpmnValidator | None = None
_DMN_VALIDATORS: dict[str, BpmnValidator] = {}


def _validator() -> BpmnValidator:
    """The BPMN 2.0 XSD, loaded once (it takes a noticeable fraction of a second)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR
