"""A form field's default value (Camunda's `defaultValue`): prefilled for the person, taken when
a submission leaves the field out, checked when the diagram is validated."""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine import forms
from engine.web import formfields

FORM: list[dict[str, Any]] = [
    {"id": "authority", "label": "Local authority", "type": "string", "required": True,
     "default": "${authority}"},
    {"id": "crime_suspected", "label": "Crime", "type": "boolean", "required": False,
     "default": "${crime_suspected}"},
    {"id": "level", "label": "Level", "type": "long", "required": False, "default": "3"},
    {"id": "urgent", "label": "Urgent", "type": "boolean", "required": False, "default": "false"},
    {"id": "notes", "label": "Notes", "type": "string", "required": False},
]


def test_defaults_are_worked_out_over_the_task_data() -> None:
    data = {"authority": "Dorset Council", "crime_suspected": True}
    assert forms.prefilled(FORM, data) == {"authority": "Dorset Council", "crime_suspected": True,
                                           "level": 3, "urgent": False}
    # a name the data does not hold, or holds empty, prefills nothing
    assert forms.prefilled(FORM, {"authority": None}) == {"level": 3, "urgent": False}


def test_a_field_left_out_takes_its_default_and_a_given_value_wins() -> None:
    data = {"authority": "Dorset Council", "crime_suspected": True}
    clean, errors = forms.validate(FORM, {}, data)
    assert errors == []
    assert clean == {"authority": "Dorset Council", "crime_suspected": True, "level": 3,
                     "urgent": False, "notes": None}
    clean, errors = forms.validate(FORM, {"authority": "Wiltshire Council",
                                          "crime_suspected": False}, data)
    assert (clean["authority"], clean["crime_suspected"]) == ("Wiltshire Council", False)
    # nothing to prefill: a required field is still required
    _, errors = forms.validate(FORM, {}, {"authority": None})
    assert errors == [{"field": "authority", "message": "is required"}]


def test_the_web_form_shows_the_defaults_until_something_is_posted() -> None:
    shown = {c.id: (c.value, c.values) for c in formfields.controls(
        FORM, None, None, forms.prefilled(FORM, {"authority": "Dorset Council",
                                                 "crime_suspected": True}))}
    assert shown["authority"] == ("Dorset Council", ["Dorset Council"])
    assert shown["crime_suspected"][0] == "true"
    assert shown["level"][0] == "3" and shown["notes"][0] == ""
    posted = {c.id: c.value for c in formfields.controls(
        FORM, {"authority": ["Somerset Council"]}, None, {"authority": "Dorset Council"})}
    assert posted["authority"] == "Somerset Council"


def _field(xml: str) -> Any:
    return etree.fromstring(
        f'<formField xmlns="http://camunda.org/schema/1.0/bpmn" {xml} />')


def test_a_default_value_is_read_from_the_diagram_and_checked() -> None:
    assert forms.read_field(_field('id="authority" type="string" defaultValue="${authority}"'))[
        "default"] == "${authority}"
    problems = forms.check_fields([_field('id="a" type="string" defaultValue="${__import__}"')])
    assert len(problems) == 1 and problems[0].startswith("form field 'a' default value:")
