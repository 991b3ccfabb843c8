"""A task's declared form fields (engine.forms) as HTML controls, and a posted HTML form back
as the values `Engine.complete` checks.

Control for each field type: `string` a text box (a text area for analysis, reasons and
other long answers), `long` a number box with its min and max, `boolean` Yes/No radios,
`date` a date box, `enum` radios (a drop-down list past five options), `enum` with
`multiple` check boxes. Checking is the engine's: what cannot be read (a number box with
letters in it) is passed on as typed, so the engine's message appears beside the field.
A field with a default value (engine.forms.prefilled) is shown filled in, to confirm or change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Posted = dict[str, list[str]]

LONG_TEXT = re.compile(r"(analysis|reasons|notes?|summary|details|description|recommendations?|"
                       r"chronology|concerns|plan|statement|research|information)$")
MAX_RADIOS = 5
SIMPLE_CONDITION = re.compile(r"""^\s*(\w+)\s*==\s*(?:"([^"]*)"|'([^']*)'|(True|False|\d+))\s*$""")


@dataclass
class Control:
    id: str
    label: str
    kind: str  # text textarea number date radios select checkboxes
    required: bool
    condition: str | None = None  # when it is required, in words
    options: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    values: list[str] = field(default_factory=list)
    error: str | None = None
    min: int | None = None
    max: int | None = None
    maxlength: int | None = None

    @property
    def hint(self) -> str:
        """What helps to answer: the range of a number, how many to tick, when required."""
        hints = []
        if self.kind == "number":
            if self.min is not None and self.max is not None:
                hints.append(f"A whole number from {self.min} to {self.max}.")
            elif self.min is not None:
                hints.append(f"A whole number, at least {self.min}.")
            elif self.max is not None:
                hints.append(f"A whole number, at most {self.max}.")
            else:
                hints.append("A whole number.")
        if self.kind == "checkboxes":
            hints.append("Select all that apply.")
        if self.condition:
            hints.append(self.condition)
        return " ".join(hints)

    @property
    def grouped(self) -> bool:
        """Radios and check boxes: a fieldset with a legend, not one label."""
        return self.kind in ("radios", "checkboxes")


def _kind(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "string")
    if kind == "boolean":
        return "radios"
    if kind == "long":
        return "number"
    if kind == "date":
        return "date"
    if kind == "enum":
        if spec.get("multiple"):
            return "checkboxes"
        return "radios" if len(spec.get("options", [])) <= MAX_RADIOS else "select"
    if spec.get("maxlength", 10_000) > 200 and LONG_TEXT.search(spec["id"]):
        return "textarea"
    return "text"


def _options(spec: dict[str, Any]) -> list[tuple[str, str]]:
    if spec.get("type") == "boolean":
        return [("true", "Yes"), ("false", "No")]
    return [(str(o["id"]), str(o.get("name") or o["id"])) for o in spec.get("options", [])]


def condition_text(spec: dict[str, Any], form: list[dict[str, Any]]) -> str | None:
    """`required_when` in words: 'Required when Consent is “Consent overridden”.'"""
    expression = spec.get("required_when")
    if not expression:
        return None
    match = SIMPLE_CONDITION.match(expression)
    other = next((f for f in form if match and f["id"] == match.group(1)), None)
    if match is None or other is None:
        return "Required for some answers to the other questions."
    wanted = next(g for g in match.groups()[1:] if g is not None)
    shown = dict(_options(other)).get(wanted.lower() if other.get("type") == "boolean"
                                      else wanted, wanted)
    return f"Required when {other.get('label') or other['id']} is “{shown}”."


def message_for(label: str, message: str) -> str:
    """The engine's message ('is required', 'must be at least 1') as a sentence."""
    if re.match(r"^(is|must|has|was|are)\b", message) or message.startswith("'"):
        return f"{label} {message}"
    return message[:1].upper() + message[1:]


def _shown(value: Any) -> list[str]:
    """A prefilled value as the form's controls hold it."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def controls(form: list[dict[str, Any]], posted: Posted | None = None,
             errors: list[dict[str, str]] | None = None,
             prefilled: dict[str, Any] | None = None) -> list[Control]:
    """The controls to show, holding what was posted (or, before anything was, the prefilled
    values) and the message for each field."""
    if posted is None and prefilled:
        posted = {name: _shown(value) for name, value in prefilled.items()}
    posted = posted or {}
    by_field = {e["field"]: e["message"] for e in errors or []}
    shown = []
    for spec in form:
        label = str(spec.get("label") or spec["id"])
        kind = _kind(spec)
        sent = posted.get(spec["id"], [])
        control = Control(
            id=spec["id"], label=label, kind=kind, required=bool(spec.get("required")),
            condition=condition_text(spec, form), options=_options(spec),
            value=sent[0] if sent else "", values=list(sent),
            min=spec.get("min"), max=spec.get("max"), maxlength=spec.get("maxlength"),
        )
        if spec["id"] in by_field:
            control.error = message_for(label, by_field[spec["id"]])
        shown.append(control)
    return shown


def unplaced_errors(form: list[dict[str, Any]], errors: list[dict[str, str]]) -> list[str]:
    """Messages about something that is not one of the fields (shown at the top only)."""
    ids = {f["id"] for f in form}
    return [message_for(e["field"], e["message"]) for e in errors if e["field"] not in ids]


def values(form: list[dict[str, Any]], posted: Posted) -> dict[str, Any]:
    """The posted answers typed for the engine; a field left empty is left out."""
    answers: dict[str, Any] = {}
    for spec in form:
        sent = [v for v in posted.get(spec["id"], []) if v != ""]
        if not sent:
            continue
        kind = spec.get("type", "string")
        if kind == "enum" and spec.get("multiple"):
            answers[spec["id"]] = sent
        elif kind == "boolean":
            answers[spec["id"]] = {"true": True, "false": False}.get(sent[0], sent[0])
        elif kind == "long":
            try:
                answers[spec["id"]] = int(sent[0].strip())
            except ValueError:
                answers[spec["id"]] = sent[0]  # the engine says "must be a whole number"
        else:
            answers[spec["id"]] = sent[0]
    return answers
