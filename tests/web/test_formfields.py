"""A task's declared fields as controls, and a posted form back as typed answers (no
browser, no service)."""

from __future__ import annotations

from typing import Any

from engine.forms import validate
from engine.web import formfields

BRAG: list[dict[str, Any]] = [
    {"id": "rag", "label": "RAG rating", "type": "enum", "required": True,
     "options": [{"id": "RED", "name": "Red"}, {"id": "AMBER", "name": "Amber"},
                 {"id": "GREEN", "name": "Green"}]},
    {"id": "consent_decision", "label": "Consent", "type": "enum", "required": True,
     "options": [{"id": "confirmed", "name": "Consent confirmed"},
                 {"id": "overridden", "name": "Consent overridden"}]},
    {"id": "consent_override_reasons", "label": "Reasons for overriding consent",
     "type": "enum", "required": False, "multiple": True,
     "required_when": 'consent_decision == "overridden"',
     "options": [{"id": "risk_of_harm", "name": "Risk of harm"},
                 {"id": "crime_detection", "name": "Crime detection"}]},
    {"id": "threshold_level", "label": "Threshold level", "type": "long", "required": True,
     "min": 1, "max": 4},
    {"id": "history_analysis", "label": "Analysis of history", "type": "string",
     "required": False},
    {"id": "strategy_discussion", "label": "Strategy discussion held?", "type": "boolean",
     "required": False},
    {"id": "seen_on", "label": "Seen on", "type": "date", "required": False},
    {"id": "social_worker", "label": "Social worker", "type": "string", "required": False},
]


def by_id(controls: list[formfields.Control]) -> dict[str, formfields.Control]:
    return {c.id: c for c in controls}


def test_each_field_type_has_its_control() -> None:
    shown = by_id(formfields.controls(BRAG))
    assert shown["rag"].kind == "radios" and shown["rag"].grouped
    assert shown["consent_override_reasons"].kind == "checkboxes"
    assert shown["threshold_level"].kind == "number"
    assert (shown["threshold_level"].min, shown["threshold_level"].max) == (1, 4)
    assert shown["history_analysis"].kind == "textarea"
    assert shown["social_worker"].kind == "text"
    assert shown["strategy_discussion"].options == [("true", "Yes"), ("false", "No")]
    assert shown["seen_on"].kind == "date"
    many = {"id": "outcome", "type": "enum", "options": [{"id": str(n)} for n in range(6)]}
    assert formfields.controls([many])[0].kind == "select"


def test_hints_say_the_range_and_when_a_field_is_required() -> None:
    shown = by_id(formfields.controls(BRAG))
    assert shown["threshold_level"].hint == "A whole number from 1 to 4."
    assert shown["consent_override_reasons"].hint == (
        "Select all that apply. Required when Consent is “Consent overridden”.")
    boolean = [{"id": "approved", "label": "Approved?", "type": "boolean"},
               {"id": "reasons", "type": "string", "required_when": "approved == False"}]
    assert formfields.controls(boolean)[1].condition == "Required when Approved? is “No”."
    odd = [{"id": "x", "type": "string", "required_when": "len(y) > 2"}]
    assert formfields.controls(odd)[0].condition == \
        "Required for some answers to the other questions."


def test_a_posted_form_is_typed_for_the_engine() -> None:
    posted = {"rag": ["RED"], "consent_decision": ["overridden"],
              "consent_override_reasons": ["risk_of_harm", "crime_detection"],
              "threshold_level": [" 4 "], "history_analysis": [""],
              "strategy_discussion": ["false"], "csrf": ["x"], "unknown": ["y"]}
    answers = formfields.values(BRAG, posted)
    assert answers == {"rag": "RED", "consent_decision": "overridden",
                       "consent_override_reasons": ["risk_of_harm", "crime_detection"],
                       "threshold_level": 4, "strategy_discussion": False}
    assert validate(BRAG, answers, {})[1] == []


def test_what_cannot_be_read_goes_to_the_engine_as_typed_and_its_message_comes_back() -> None:
    posted = {"rag": ["RED"], "consent_decision": ["overridden"], "threshold_level": ["four"]}
    answers = formfields.values(BRAG, posted)
    assert answers["threshold_level"] == "four"
    _, errors = validate(BRAG, answers, {})
    shown = by_id(formfields.controls(BRAG, posted, errors))
    assert shown["threshold_level"].error == "Threshold level must be a whole number"
    assert shown["threshold_level"].value == "four"
    assert shown["consent_override_reasons"].error == \
        "Reasons for overriding consent is required"
    assert shown["rag"].value == "RED" and shown["rag"].error is None


def test_messages_about_no_field_are_shown_at_the_top() -> None:
    errors = [{"field": "data", "message": "must be an object of field: value"},
              {"field": "rag", "message": "is required"}]
    assert formfields.unplaced_errors(BRAG, errors) == ["data must be an object of field: value"]
    assert formfields.message_for("Consent", "consent may be overridden only at level 4") == \
        "Consent may be overridden only at level 4"
