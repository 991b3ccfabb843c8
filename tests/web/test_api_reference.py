"""`/docs` as a reader uses it: the contact's fields, each described, its examples to pick
from, and the way to give a token."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests.web.browser import new_page, screenshot
from tests.web.conftest import Hub
from tests.web.service import REPOSITORY


def test_the_reference_shows_the_contact_field_by_field_with_its_examples(
        hub: Hub, browser: Browser) -> None:
    context, page = new_page(browser, hub.url)
    page.goto("/docs")
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()
    operation = page.locator(".opblock-post", has=page.locator(
        ".opblock-summary-path", has_text=re.compile(r"^/contacts$")))
    operation.locator(".opblock-summary").click()
    expect(operation).to_contain_text("Submit a contact")
    expect(operation).to_contain_text("Who:")
    # the examples from examples/, offered by name, the chosen one shown as the body
    chooser = operation.locator(".examples-select select").first
    expect(chooser).to_be_visible()
    offered = chooser.locator("option").all_inner_texts()
    assert "examples/contact-red.json" in offered, offered
    chooser.select_option(label="examples/contact-not-bcp.json")
    expect(operation.locator(".body-param__example, .microlight").first).to_contain_text("BH19 1AA")
    # the schema, field by field, with what each means
    operation.get_by_role("tab", name="Schema").first.click()
    schema = operation.locator(".model-box").first
    expect(schema).to_contain_text("Contact")
    for field in ("channel", "received_at", "referrer", "child", "concerns", "immediate_risk",
                  "crime_suspected", "consent"):
        expect(schema).to_contain_text(field)
    expect(schema).to_contain_text("anything else is for people to check")
    schema.get_by_role("button", name=re.compile("^child")).first.click()
    expect(schema).to_contain_text("a missing or malformed postcode is checked by a person")
    screenshot(page, "api-reference.png")
    body = json.loads((REPOSITORY / "examples" / "contact-red.json").read_text())
    assert body["channel"] == "phone"
    context.close()
