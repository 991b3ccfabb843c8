"""Scenario files for `mash simulate` (docs/scenarios.md, format 1): read and checked up front, so
an error names the contact (or disagreement) and the field before anything runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from ..clock import as_utc

FORMAT = 1
TOP = ("format", "start", "case_records", "contacts", "disagreements", "name", "description",
       "defaults")
CONTACT_KEYS = ("id", "received_at", "contact", "answers", "work_time", "child_answers")
DISAGREEMENT_KEYS = ("id", "raised_at", "about", "stages", "summary", "raised_by")
STAGE_KEYS = ("resolved", "after", "reasons")
RECORD_KEYS = ("child_id", "status", "allocated_worker", "team", "closed_on", "worker_email",
               "name", "dob", "postcode", "family")


class ScenarioError(ValueError):
    """A scenario that cannot run: names where (contact, task, field) and what is wrong."""


@dataclass
class Contact:
    id: str
    received_at: datetime
    contact: dict[str, Any]
    answers: dict[str, Any]
    work_time: dict[str, timedelta]
    # A contact naming several children (`contact.children`): each child's answers that
    # differ from the contact's (its own RAG rating or outcome), in the children's order.
    child_answers: list[dict[str, Any]] = field(default_factory=list)

    def time_for(self, role: str) -> timedelta:
        return self.work_time.get(role, self.work_time.get("default", timedelta(0)))

    @property
    def children(self) -> int:
        return len(self.contact.get("children") or [None])

    def answers_for(self, child: int) -> dict[str, Any]:
        """The answers the scripted people give for the contact's child number `child`."""
        own = self.child_answers[child] if child < len(self.child_answers) else {}
        return {**self.answers, **own}


@dataclass
class Stage:
    resolved: bool
    after: timedelta
    reasons: str


@dataclass
class Disagreement:
    id: str
    raised_at: datetime
    about: str | None
    stages: list[Stage]
    summary: str = ""
    raised_by: dict[str, Any] | None = None


@dataclass
class Scenario:
    start: datetime
    case_records: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)


def parse_duration(text: Any, where: str) -> timedelta:
    if not isinstance(text, str) or not text.upper().startswith("P"):
        raise ScenarioError(f"{where}: {text!r} is not an ISO 8601 duration such as PT3H")
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text.upper())
    except Exception:
        raise ScenarioError(f"{where}: {text!r} is not an ISO 8601 duration such as PT3H") from None
    if parsed.get("years") or parsed.get("months"):
        raise ScenarioError(f"{where}: {text!r}: give working time in days, hours and minutes")
    days = parsed.get("days", 0) + 7 * parsed.get("weeks", 0)
    return timedelta(days=days, hours=parsed.get("hours", 0), minutes=parsed.get("minutes", 0),
                     seconds=parsed.get("seconds", 0))


def parse_instant(text: Any, where: str) -> datetime:
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: {text!r} is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ScenarioError(f"{where}: {text!r} has no offset; add Z or +01:00")
    return as_utc(parsed)


def _keys(value: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be an object")
    for key in value:
        if key not in allowed:
            raise ScenarioError(f"{where}: unknown field {key!r}; use {', '.join(allowed)}")
    return value


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"cannot read {path}: {err.strerror}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "scenario") -> Scenario:
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ScenarioError(f"{source} is neither JSON nor YAML: {err}") from None
    return build(document, source)


def build(document: Any, source: str = "scenario",
          known_answers: set[str] | None = None) -> Scenario:
    from handlers.intake import validate_contact

    document = _keys(document, TOP, source)
    if document.get("format") != FORMAT:
        raise ScenarioError(f"{source}: format must be {FORMAT}, not {document.get('format')!r}")
    scenario = Scenario(start=parse_instant(document.get("start"), f"{source}: start"))
    for i, record in enumerate(document.get("case_records") or []):
        where = f"case_records[{i}]"
        record = _keys(record, RECORD_KEYS, where)
        if not record.get("child_id") or record.get("status") not in ("open", "closed"):
            raise ScenarioError(f"{where}: needs child_id and status open or closed")
        for day in ("closed_on", "dob"):
            try:
                if record.get(day) is not None:
                    date.fromisoformat(record[day])
            except (TypeError, ValueError):
                raise ScenarioError(f"{where}: {day} must be a date, YYYY-MM-DD") from None
        scenario.case_records.append(record)
    # Answers every contact gives unless its own answers say otherwise: a new form field
    # needs one line here, not an edit of every contact.
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ScenarioError(f"{source}: defaults must be an object of field: value")
    for name in defaults:
        if known_answers is not None and name not in known_answers:
            raise ScenarioError(f"{source}: defaults.{name} is not a field of any task in the "
                                "diagrams")
    seen: set[str] = set()
    for i, item in enumerate(document.get("contacts") or []):
        item = _keys(item, CONTACT_KEYS, f"contacts[{i}]")
        contact_id = item.get("id")
        if not isinstance(contact_id, str) or not contact_id:
            raise ScenarioError(f"contacts[{i}]: needs an id")
        if contact_id in seen:
            raise ScenarioError(f"contact {contact_id}: the id is used twice")
        seen.add(contact_id)
        where = f"contact {contact_id}"
        received = parse_instant(item.get("received_at"), f"{where}: received_at")
        if received < scenario.start:
            raise ScenarioError(f"{where}: received_at is before the scenario's start")
        body, errors = validate_contact(item.get("contact"))
        if errors:
            raise ScenarioError(f"{where}: contact.{errors[0]['field']} {errors[0]['message']}")
        answers = item.get("answers") or {}
        if not isinstance(answers, dict):
            raise ScenarioError(f"{where}: answers must be an object of field: value")
        if known_answers is not None:
            for name in answers:
                if name not in known_answers:
                    raise ScenarioError(f"{where}: answers.{name} is not a field of any task "
                                        "in the diagrams")
        child_answers = item.get("child_answers") or []
        if not isinstance(child_answers, list) or not all(isinstance(a, dict)
                                                          for a in child_answers):
            raise ScenarioError(f"{where}: child_answers must be a list of objects, one per "
                                "child the contact names")
        if len(child_answers) > len(body.get("children") or [None]):
            raise ScenarioError(f"{where}: child_answers has {len(child_answers)} entries but "
                                f"the contact names {len(body.get('children') or [None])} "
                                "child(ren)")
        if known_answers is not None:
            for name in (n for own in child_answers for n in own):
                if name not in known_answers:
                    raise ScenarioError(f"{where}: child_answers.{name} is not a field of any "
                                        "task in the diagrams")
        work = item.get("work_time") or {}
        if not isinstance(work, dict):
            raise ScenarioError(f"{where}: work_time must be an object of role: duration")
        work_time = {role: parse_duration(value, f"{where}: work_time.{role}")
                     for role, value in work.items()}
        scenario.contacts.append(Contact(contact_id, received, body, {**defaults, **answers},
                                         work_time, [dict(a) for a in child_answers]))
    for i, item in enumerate(document.get("disagreements") or []):
        item = _keys(item, DISAGREEMENT_KEYS, f"disagreements[{i}]")
        disagreement_id = item.get("id")
        if not isinstance(disagreement_id, str) or not disagreement_id:
            raise ScenarioError(f"disagreements[{i}]: needs an id")
        where = f"disagreement {disagreement_id}"
        raised = parse_instant(item.get("raised_at"), f"{where}: raised_at")
        about = item.get("about")
        if about is not None and about not in seen:
            raise ScenarioError(f"{where}: about {about!r} is not a contact of this scenario")
        stages = []
        for j, stage in enumerate(item.get("stages") or []):
            stage = _keys(stage, STAGE_KEYS, f"{where}: stages[{j}]")
            if not isinstance(stage.get("resolved"), bool):
                raise ScenarioError(f"{where}: stages[{j}].resolved must be true or false")
            stages.append(Stage(stage["resolved"],
                                parse_duration(stage.get("after", "PT0S"),
                                               f"{where}: stages[{j}].after"),
                                str(stage.get("reasons") or
                                    ("resolved" if stage["resolved"] else "not resolved"))))
        if len(stages) > 3:
            raise ScenarioError(f"{where}: at most 3 stages respond; stage 4 is the Partnership")
        scenario.disagreements.append(Disagreement(
            disagreement_id, raised, about, stages, str(item.get("summary") or ""),
            item.get("raised_by") if isinstance(item.get("raised_by"), dict) else None))
    return scenario
