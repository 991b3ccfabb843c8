"""Accessibility of the pages, checked in the real pages in Chromium: axe-core's WCAG 2.x A
and AA rules (contrast, labels, names, landmarks, ARIA), then what axe cannot judge:
keyboard use from start to finish, visible focus, one h1 and no skipped heading level, and no
sideways scrolling on a laptop screen."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browser import new_page, sign_in
from tests.web.conftest import Hub
from tests.web.steps import fill_brag, new_case, submit

AXE_DIR = Path(__file__).parent / "axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core, pinned in tests/web/axe/package-lock.json, installed on first use."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund",
                        "--ignore-scripts", "--loglevel=error"], check=True)
    return AXE.read_text(encoding="utf-8")


def violations(page: Page, source: str) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                where: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }""", WCAG)
    return found


def headings(page: Page) -> list[int]:
    levels: list[int] = page.eval_on_selector_all(
        "h1, h2, h3, h4, h5, h6", "els => els.map(e => Number(e.tagName[1]))")
    return levels


def check_page(page: Page, source: str, name: str) -> None:
    problems = violations(page, source)
    assert not problems, f"{name}: {problems}"
    levels = headings(page)
    assert levels.count(1) == 1, f"{name}: {levels}"
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"{name}: heading level skipped in {levels}"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name}: scrolls sideways on a laptop screen {width}"
    unlabelled = page.eval_on_selector_all(
        "input:not([type=hidden]), select, textarea",
        """els => els.filter(e => !(e.labels && e.labels.length)).map(e => e.id || e.name)""")
    assert not unlabelled, f"{name}: controls without a label: {unlabelled}"


def test_every_page_meets_wcag_a_and_aa_as_axe_checks_it(hub: Hub, browser: Browser,
                                                        axe_source: str) -> None:
    instance_id, task_id = new_case(hub, "Morgan Lee", "C40001")
    context, page = new_page(browser, hub.url, bypass_csp=True)

    page.goto("/signin")
    check_page(page, axe_source, "sign in")
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    check_page(page, axe_source, "sign in, refused")

    sign_in(page, hub.manager)
    check_page(page, axe_source, "inbox")
    page.goto(f"/inbox/{task_id}")
    check_page(page, axe_source, "task")
    fill_brag(page, "AMBER", "4", "overridden", [])
    submit(page)
    expect(page.locator("#error-summary")).to_be_visible()
    check_page(page, axe_source, "task, refused")
    page.goto(f"/case/{instance_id}")
    page.wait_for_selector("#diagram[data-ready='true']")
    check_page(page, axe_source, "case")
    page.goto("/board")
    check_page(page, axe_source, "deadlines")
    page.goto("/incident-list")
    check_page(page, axe_source, "incidents")
    context.close()

    other, page = new_page(browser, hub.url, bypass_csp=True)
    sign_in(page, hub.support)
    page.goto(f"/inbox/{task_id}")
    check_page(page, axe_source, "refused task")
    other.close()


def focused(page: Page) -> dict[str, Any]:
    """The focused element: what it is and whether its focus can be seen."""
    state: dict[str, Any] = page.evaluate("""() => {
        const e = document.activeElement, style = getComputedStyle(e);
        return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute("name") || "",
                type: e.getAttribute("type") || "", text: (e.innerText || "").trim(),
                visible: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
    }""")
    return state


def test_a_task_can_be_done_start_to_finish_by_keyboard(hub: Hub, browser: Browser) -> None:
    _, task_id = new_case(hub, "Quinn Hall", "C40002")
    context, page = new_page(browser, hub.url)
    page.goto(f"/inbox/{task_id}")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to main content"
    for _ in range(5):
        page.keyboard.press("Tab")
        if focused(page)["id"] == "token":
            break
    assert focused(page)["id"] == "token" and focused(page)["visible"]
    page.keyboard.type(hub.manager)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{hub.url}/inbox/{task_id}")

    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to main content" and skip["visible"]
    assert page.locator(".skip-link").bounding_box() is not None
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"

    # Tab through the form answering each question as it comes: nothing needs a mouse.
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["tag"] in ("input", "textarea", "select", "button"):
            assert now["visible"], f"focus cannot be seen on {now}"
        if now["tag"] == "button" and now["text"] == "Complete task":
            page.keyboard.press("Enter")
            break
        if not now["name"] or now["name"] == "csrf":
            continue
        reached.append(now["name"])
        if now["tag"] == "textarea" or now["type"] == "text":
            page.keyboard.type("Typed by keyboard.")
        elif now["type"] == "number":
            page.keyboard.type("3")
        elif now["type"] == "radio" and now["name"] in ("rag", "consent_decision"):
            page.keyboard.press("Space")  # the first choice: RED, consent confirmed
    else:
        raise AssertionError(f"the Complete task button was never reached: {reached}")
    for name in ("rag", "consent_decision", "threshold_level", "consent_override_reasons"):
        assert name in reached, reached
    page.wait_for_url("**/inbox?done=*")
    expect(page.get_by_role("status")).to_contain_text("Task completed")
    context.close()
