"""`/openapi.json` describes what the service really takes and answers: the contact field by
field as handlers/intake.py checks it (the two cannot drift: every field intake accepts is
described, and the schema and intake refuse the same mistakes), the error shape, the bearer
token, who may call each operation; and describing it changed none of the API's answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.api.openapi import CHILD_FIELDS, CONTACT_FIELDS, REFERRER_FIELDS
from handlers import intake
from tests.pathways.harness import REPOSITORY

from .conftest import Service


@pytest.fixture
def database_url(tmp_path: Path) -> str:  # the description is the same on any database
    return f"sqlite:///{tmp_path / 'mash.sqlite'}"


@pytest.fixture
def described(service: Service) -> Iterator[dict[str, Any]]:
    answer = service.call(None, "GET", "/openapi.json")
    assert answer.status_code == 200
    yield answer.json()


def contact_schema(described: dict[str, Any]) -> dict[str, Any]:
    """The Contact schema, standalone (its references resolved within the document)."""
    schema = copy.deepcopy(described["components"]["schemas"]["Contact"])
    schema["$defs"] = described["components"]["schemas"]
    return schema


def schema_refuses(schema: dict[str, Any], body: Any) -> bool:
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return any(True for _ in checker.iter_errors(body))


def intake_refuses(body: Any) -> bool:
    return bool(intake.validate_contact(body)[1])


def test_the_contact_schema_has_every_field_intake_accepts(described: dict[str, Any]) -> None:
    contacts = described["paths"]["/contacts"]["post"]["requestBody"]["content"]
    assert contacts["application/json"]["schema"] == {"$ref": "#/components/schemas/Contact"}
    contact = described["components"]["schemas"]["Contact"]
    assert contact["additionalProperties"] is False
    assert set(contact["properties"]) == set(intake.TOP_FIELDS)
    assert set(contact["properties"]["child"]["properties"]) == set(intake.CHILD_FIELDS)
    assert set(contact["properties"]["referrer"]["properties"]) == set(intake.REFERRER_FIELDS)
    assert contact["properties"]["channel"]["enum"] == list(intake.CHANNELS)
    assert contact["properties"]["consent"]["enum"] == [*intake.CONSENT, None]
    assert contact["properties"]["referrer"]["properties"]["kind"]["enum"] == \
        [*intake.REFERRER_KINDS, None]
    for name in intake.FLAGS:
        assert contact["properties"][name]["type"] == "boolean"
    # and each is described, in words a client author can use (engine/api/openapi.py)
    undescribed = [n for n in intake.TOP_FIELDS if not CONTACT_FIELDS.get(n)] + \
        [f"child.{n}" for n in intake.CHILD_FIELDS if not CHILD_FIELDS.get(n)] + \
        [f"referrer.{n}" for n in intake.REFERRER_FIELDS if not REFERRER_FIELDS.get(n)]
    assert undescribed == [], "describe these in engine/api/openapi.py"
    for name, field in contact["properties"].items():
        assert field.get("type"), f"{name}: no type in engine/api/openapi.py's contact_schema"


def test_every_example_is_valid_by_the_schema_and_accepted_by_intake(
        described: dict[str, Any]) -> None:
    schema = contact_schema(described)
    media = described["paths"]["/contacts"]["post"]["requestBody"]["content"]["application/json"]
    offered = {name: example["value"] for name, example in media["examples"].items()}
    files = {p.stem: json.loads(p.read_text()) for p in (REPOSITORY / "examples").glob("contact-*.json")}
    assert offered == files  # /docs offers the repository's examples, as they are
    for name, body in [*offered.items(), ("schema's own", schema["examples"][0])]:
        assert not schema_refuses(schema, body), name
        assert not intake_refuses(body), name


def _mistakes(schema: dict[str, Any], base: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Contacts that are wrong in one place each, made from the schema: every field given a
    value of the wrong type, every choice a value outside it, every text too long, an
    unknown field at every level."""
    wrong = {"string": 12345, "boolean": "yes", "object": "text", "array": "text",
             "integer": "text"}

    def walk(path: list[str], field: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        kinds = field.get("type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
        main = next((k for k in kinds if k != "null"), None)
        name = ".".join(path)
        if main in wrong:
            yield f"{name}: wrong type", wrong[main]
        if "enum" in field:
            yield f"{name}: not a choice", "not-one-of-them"
        if "maxLength" in field:
            yield f"{name}: too long", "x" * (field["maxLength"] + 1)
        if field.get("format") == "date":
            yield f"{name}: not a date", "2026-02-30"
        if main == "object":
            yield f"{name}: unknown field", {"unknown": "x"}
            for key, inner in field.get("properties", {}).items():
                for what, value in walk([*path, key], inner):
                    yield what, (path, key, value)

    for key, field in schema["properties"].items():
        for what, value in walk([key], field):
            body = copy.deepcopy(base)
            if isinstance(value, tuple):
                (outer, inner_key, inner_value) = value
                target = body
                for part in outer:
                    target = target.setdefault(part, {})
                target[inner_key] = inner_value
            else:
                body[key] = value
            yield what, body
    yield "unknown top-level field", {**base, "unknown": True}
    yield "no concerns", {k: v for k, v in base.items() if k != "concerns"}
    yield "no channel", {k: v for k, v in base.items() if k != "channel"}


def test_the_schema_and_intake_refuse_the_same_mistakes(described: dict[str, Any]) -> None:
    schema = contact_schema(described)
    base = json.loads((REPOSITORY / "examples" / "contact-red.json").read_text())
    checked = 0
    for what, body in _mistakes(described["components"]["schemas"]["Contact"], base):
        assert schema_refuses(schema, body), f"the schema accepts {what}"
        assert intake_refuses(body), f"intake accepts {what}"
        checked += 1
    assert checked > 30


def test_the_schema_and_intake_accept_the_same_variations(described: dict[str, Any]) -> None:
    """Every choice of every field, every field that may be null set to null, every field
    but the two required left out: both accept each."""
    schema = contact_schema(described)
    contact = described["components"]["schemas"]["Contact"]
    base = json.loads((REPOSITORY / "examples" / "contact-amber.json").read_text())
    variations: list[tuple[str, dict[str, Any]]] = []
    for key, field in contact["properties"].items():
        if key not in contact["required"] and key != "children":
            variations.append((f"no {key}", {k: v for k, v in base.items() if k != key}))
        inner = field.get("properties", {})
        for name, value in [(key, field), *[(f"{key}.{n}", f) for n, f in inner.items()]]:
            for choice in value.get("enum", []):
                variations.append((f"{name} = {choice!r}", _set(base, name, choice)))
            if "null" in value.get("type", []):
                variations.append((f"{name} = null", _set(base, name, None)))
    assert len(variations) > 25
    for what, body in variations:
        assert not schema_refuses(schema, body), f"the schema refuses {what}"
        assert not intake_refuses(body), f"intake refuses {what}"


def _set(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    *outer, last = dotted.split(".")
    target = body
    for part in outer:
        target = target.setdefault(part, {})
    target[last] = value
    return body


def test_the_description_is_a_valid_openapi_document(described: dict[str, Any]) -> None:
    """What client generators read: valid OpenAPI 3.1, every schema valid JSON Schema."""
    from openapi_spec_validator import validate

    assert described["openapi"].startswith("3.1")
    validate(described)


def test_every_operation_says_who_may_call_it_and_how_it_refuses(
        described: dict[str, Any]) -> None:
    text = json.dumps(described)
    assert "HTTPValidationError" not in text  # FastAPI's shape, which this API never answers
    assert described["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    for path, operations in described["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert "**Who:**" in operation.get("description", ""), \
                f"{where}: describe it in OPERATIONS, engine/api/openapi.py"
            assert all(p["name"] != "authorization" for p in operation.get("parameters", [])), where
            for status, response in operation["responses"].items():
                if status.startswith("4") or status.startswith("5"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Errors"}, f"{where} {status}"
            if path != "/healthz":
                assert operation["security"] == [{"token": []}], where
                assert "401" in operation["responses"], where


def test_the_api_answers_as_before(service: Service) -> None:
    """Describing the body changed nothing of how it is checked: intake's messages, field by
    field, in the API's error shape."""
    answer = service.call("bsio", "POST", "/contacts", json={
        "channel": "fax", "concerns": "x", "child": {"dob": "2026-02-30", "shoe_size": 3}})
    assert answer.status_code == 422
    assert answer.json() == {"errors": [
        {"field": "channel", "message": "must be one of email, phone, portal, ppn"},
        {"field": "child.shoe_size", "message": "is not a known field; use id, name, dob, "
                                                "postcode, address"},
        {"field": "child.dob", "message": "must be a real date, YYYY-MM-DD"}]}
    assert service.call("bsio", "POST", "/contacts", content=b"{",
                        headers={"Content-Type": "application/json"}).status_code == 400
