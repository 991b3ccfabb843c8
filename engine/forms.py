"""Human task forms: the fields a user task declares in the diagram (Camunda Modeler's Forms
tab), and the check of what a person submits against them.

Field types are Camunda's: `string`, `long`, `boolean`, `date`, `enum`. Extras, set as field
properties in the modeller: `multiple` = `true` on an enum takes a list of its values;
`required_when` = an expression over the task data and the submitted values
(`consent_decision == "overridden"`). Validation constraints: `required`, `min`, `max`,
`minlength`, `maxlength`. `valid_when` = an expression the submitted values must make
hold, with `invalid_message` saying what is wrong.

A field's `defaultValue` (the modeller's "Default value") prefills it: a literal (`true`, `3`,
`Dorset Council`) or `${name}`, Camunda's way of naming a value in the task data (any
expression over the data works). The web form shows it filled in for the person to confirm or
change, and a field left out of a submission takes it, as a person who accepts what is shown.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .expressions import SAFE_BUILTIN_NAMES, ExpressionEnvironment, ExpressionError, check

TYPES = ("string", "long", "boolean", "date", "enum")
MAX_TEXT = 20_000
MAX_ITEMS = 50
CONSTRAINTS = ("required", "readonly", "min", "max", "minlength", "maxlength")

_conditions = ExpressionEnvironment({})
# A form's conditions run with the plain data builtins only (not the engine's functions).
_CALLABLE = frozenset(n for n in SAFE_BUILTIN_NAMES if n not in ("True", "False", "None"))


def _camunda(node: Any, name: str) -> list[Any]:
    return [c for c in node if isinstance(c.tag, str) and c.tag.endswith("}" + name)]


def read_field(node: Any) -> dict[str, Any]:
    """One `camunda:formField` as the engine stores and serves it."""
    field: dict[str, Any] = {
        "id": node.get("id"), "label": node.get("label") or node.get("id"),
        "type": node.get("type") or "string", "required": False,
    }
    if node.get("defaultValue") is not None:
        field["default"] = node.get("defaultValue")
    for props in _camunda(node, "properties"):
        for prop in props:
            if prop.get("id") == "multiple":
                field["multiple"] = (prop.get("value") or "").lower() == "true"
            elif prop.get("id") in ("required_when", "valid_when", "invalid_message"):
                field[prop.get("id")] = prop.get("value")
    for validation in _camunda(node, "validation"):
        for constraint in validation:
            name, config = constraint.get("name"), constraint.get("config")
            if name == "required":
                field["required"] = True
            elif name in ("min", "max", "minlength", "maxlength") and config is not None:
                field[name] = int(config)
    if field["type"] == "enum":
        field["options"] = [{"id": v.get("id"), "name": v.get("name") or v.get("id")}
                            for v in _camunda(node, "value")]
    return field


def check_fields(nodes: list[Any]) -> list[str]:
    """Problems with a user task's field declarations (for `mash validate`)."""
    problems: list[str] = []
    seen: set[str] = set()
    for node in nodes:
        field_id = node.get("id") or ""
        if not field_id.isidentifier() or field_id.startswith("_"):
            problems.append(f"form field id {field_id!r} is not a plain name")
            continue
        if field_id in seen:
            problems.append(f"form field {field_id!r} is declared twice")
        seen.add(field_id)
        kind = node.get("type") or "string"
        if kind not in TYPES:
            problems.append(f"form field {field_id!r} has type {kind!r}; use one of {', '.join(TYPES)}")
        try:
            field = read_field(node)
        except ValueError:
            problems.append(f"form field {field_id!r} has a min/max/length that is not a number")
            continue
        if kind == "enum" and not field["options"]:
            problems.append(f"enum form field {field_id!r} has no values")
        for validation in _camunda(node, "validation"):
            for constraint in validation:
                if constraint.get("name") not in CONSTRAINTS:
                    problems.append(f"form field {field_id!r} has unknown constraint "
                                    f"{constraint.get('name')!r}")
        expression = _default_expression(field.get("default"))
        if expression is not None:
            try:
                check(expression, "eval", _CALLABLE)
            except ExpressionError as err:
                problems.append(f"form field {field_id!r} default value: {err}")
        for key in ("required_when", "valid_when"):
            if key in field:
                try:
                    check(field[key], "eval", _CALLABLE)
                except ExpressionError as err:
                    problems.append(f"form field {field_id!r} {key}: {err}")
    return problems


def _default_expression(default: Any) -> str | None:
    """The expression of a `${...}` default value, or None for a literal (or no default)."""
    if isinstance(default, str) and default.strip().startswith("${") and \
            default.strip().endswith("}"):
        return default.strip()[2:-1].strip()
    return None


def _literal(field: dict[str, Any], text: str) -> Any:
    """A literal default value typed as its field: the modeller stores every value as text."""
    kind = field["type"]
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    if kind == "long":
        try:
            return int(text.strip())
        except ValueError:
            return text
    if kind == "enum" and field.get("multiple"):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def prefilled(form: list[dict[str, Any]], task_data: dict[str, Any]) -> dict[str, Any]:
    """Each field's default value worked out over the task data (blank ones left out)."""
    values: dict[str, Any] = {}
    for field in form:
        default = field.get("default")
        if default is None:
            continue
        expression = _default_expression(default)
        if expression is None:
            value = _literal(field, default)
        else:
            try:
                value = _conditions.evaluate(expression, dict(task_data))
            except Exception:  # a name the data does not hold yet: nothing to prefill
                continue
        if not _is_blank(value):
            values[field["id"]] = value
    return values


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _coerce(field: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    kind = field["type"]
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, "must be true or false"
    if kind == "long":
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be a whole number"
        if "min" in field and value < field["min"]:
            return None, f"must be at least {field['min']}"
        if "max" in field and value > field["max"]:
            return None, f"must be at most {field['max']}"
        return value, None
    if kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            return None, "must be a date, YYYY-MM-DD"
        try:
            date.fromisoformat(value)
        except ValueError:
            return None, "is not a real date"
        return value, None
    if kind == "enum":
        allowed = [o["id"] for o in field.get("options", [])]
        if field.get("multiple"):
            if not isinstance(value, list) or len(value) > MAX_ITEMS:
                return None, f"must be a list of: {', '.join(allowed)}"
            wrong = [v for v in value if v not in allowed]
            if wrong:
                return None, f"{wrong[0]!r} is not one of: {', '.join(allowed)}"
            return value, None
        if value not in allowed:
            return None, f"must be one of: {', '.join(allowed)}"
        return value, None
    if not isinstance(value, str):
        return None, "must be text"
    if len(value) > field.get("maxlength", MAX_TEXT):
        return None, f"is longer than {field.get('maxlength', MAX_TEXT)} characters"
    if len(value) < field.get("minlength", 0):
        return None, f"is shorter than {field['minlength']} characters"
    return value, None


def validate(form: list[dict[str, Any]], submitted: Any, task_data: dict[str, Any]
             ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The accepted values, and every error as {"field", "message"}."""
    if not isinstance(submitted, dict):
        return {}, [{"field": "data", "message": "must be an object of field: value"}]
    errors: list[dict[str, str]] = []
    by_id = {f["id"]: f for f in form}
    for name in submitted:
        if name not in by_id:
            errors.append({"field": str(name), "message":
                           f"is not a field of this task; its fields are {', '.join(by_id)}"})
    clean: dict[str, Any] = {}
    defaults = prefilled(form, task_data)
    for field in form:
        value = submitted.get(field["id"])
        if _is_blank(value):
            value = defaults.get(field["id"])  # left out: the prefilled value stands
        if _is_blank(value):
            continue
        accepted, message = _coerce(field, value)
        if message:
            errors.append({"field": field["id"], "message": message})
        else:
            clean[field["id"]] = accepted
    context = {**task_data, **{f["id"]: None for f in form}, **clean}
    for field in form:
        if field["id"] in clean or any(e["field"] == field["id"] for e in errors):
            continue
        required = field.get("required", False)
        if not required and field.get("required_when"):
            try:
                required = bool(_conditions.evaluate(field["required_when"], dict(context)))
            except Exception as err:  # a broken condition must not let a form through
                errors.append({"field": field["id"],
                               "message": f"required_when could not be evaluated: {err}"})
                continue
        if required:
            errors.append({"field": field["id"], "message": "is required"})
    if not errors:
        for field in form:
            if field.get("valid_when") and not _holds(field["valid_when"], {**context, **clean}):
                errors.append({"field": field["id"], "message": field.get("invalid_message")
                               or f"must satisfy {field['valid_when']}"})
    if errors:
        return {}, errors
    # Every field is recorded, a left-out one as None, so conditions can test it.
    return {f["id"]: clean.get(f["id"]) for f in form}, []


def _holds(condition: str, namespace: dict[str, Any]) -> bool:
    try:
        return bool(_conditions.evaluate(condition, dict(namespace)))
    except Exception:
        return False
