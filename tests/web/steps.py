"""Steps the page tests share: a case set up through the API, the BRAG form filled in the
browser, what the diagram marks."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page

from tests.web.conftest import Hub
from tests.web.drive import drive, waiting_at
from tests.web.service import contact


def new_case(hub: Hub, child_name: str, child_id: str) -> tuple[str, str]:
    """A contact moved on to its BRAG task; returns the instance id and the task id."""
    status, started = hub.service.call("POST", "/contacts", hub.admin,
                                       contact(child_name, child_id))
    assert status == 201, started
    view = drive(hub.service, hub.admin, started["id"], waiting_at("brag"))
    task = next(t for t in view["open_tasks"] if t["element_id"] == "brag")
    return started["id"], task["id"]


def path_of(page: Page) -> str:
    return urlparse(page.url).path


def marked(page: Page, marker: str) -> set[str]:
    """The ids of the diagram elements bpmn-js drew with a marker."""
    ids: list[str] = page.eval_on_selector_all(
        f".djs-element.{marker}", "els => els.map(e => e.dataset.elementId)")
    return set(ids)


def diagram_scale(page: Page) -> float:
    """The drawn diagram's zoom: the scale of bpmn-js's viewport."""
    scale: float = page.eval_on_selector(
        "#diagram svg .viewport", "g => g.transform.baseVal.consolidate().matrix.a")
    return scale


def check_zoom(page: Page) -> None:
    """The diagram's zoom buttons and keys (engine/web/static/diagram.js) do what they say."""
    before = diagram_scale(page)
    page.get_by_role("button", name="Zoom in").click()
    assert diagram_scale(page) == pytest.approx(before * 1.25, rel=1e-3)
    page.get_by_role("button", name="Zoom out").click()
    assert diagram_scale(page) == pytest.approx(before, rel=1e-3)
    page.locator("#diagram").focus()
    page.keyboard.press("+")
    assert diagram_scale(page) == pytest.approx(before * 1.25, rel=1e-3)
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert diagram_scale(page) == pytest.approx(before / 1.25, rel=1e-3)
    page.get_by_role("button", name="Fit to screen").click()
    fitted = diagram_scale(page)
    page.locator("#diagram").focus()
    page.keyboard.press("+")
    page.keyboard.press("0")
    assert diagram_scale(page) == pytest.approx(fitted, rel=1e-3)


def open_case(page: Page, instance_id: str) -> None:
    page.goto(f"/case/{instance_id}")
    page.wait_for_selector("#diagram[data-ready='true']")


def fill_brag(page: Page, rag: str, level: str, consent: str, reasons: list[str]) -> None:
    page.locator("#field-history_analysis").fill("Known to Early Help in 2024; closed.")
    page.check(f"input[name=rag][value={rag}]")
    page.locator("#field-threshold_level").fill(level)
    page.check(f"input[name=consent_decision][value={consent}]")
    for box in page.locator("input[name=consent_override_reasons]").all():
        box.set_checked(box.get_attribute("value") in reasons)


def submit(page: Page) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Complete task").click()
    page.wait_for_load_state()
    status: int = answer.value.status
    return status
