"""The management information pages in Chromium on the real service: the timeliness
dashboard, the heat map on a process's diagram and on a case, for managers; axe-core's WCAG
A and AA rules and the page checks of test_accessibility; screenshots for docs/."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.web.browser import new_page, screenshot, sign_in
from tests.web.conftest import Hub
from tests.web.steps import check_zoom, new_case, open_case
from tests.web.test_accessibility import axe_source, check_page  # noqa: F401 (a fixture)


def test_the_dashboard_and_heat_maps_meet_wcag_and_show_the_numbers(
        hub: Hub, browser: Browser, axe_source: str) -> None:  # noqa: F811
    instance_id, _ = new_case(hub, "Robin Park", "C50001")
    new_case(hub, "Kit Reed", "C50002")
    context, page = new_page(browser, hub.url, bypass_csp=True)
    sign_in(page, hub.manager)
    page.get_by_role("link", name="Timeliness").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Timeliness")
    assert int(page.locator("#total-contacts").inner_text()) >= 2
    expect(page.locator("#received-table")).to_contain_text("Total")
    expect(page.locator("#deadlines-table")).to_contain_text("Decision")
    expect(page.locator("#open-table")).to_contain_text("MASH Team Manager")
    check_page(page, axe_source, "dashboard")
    screenshot(page, "dashboard.png")

    page.get_by_label("Channel", exact=True).select_option("portal")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#total-contacts")).to_have_text("0")
    check_page(page, axe_source, "dashboard, filtered")

    page.goto("/processes/first_response")
    page.wait_for_selector("#diagram[data-ready='true']")
    expect(page.locator(".heat-badge").first).to_contain_text("passed")
    expect(page.locator("#heat-table")).to_contain_text("Verification")
    check_page(page, axe_source, "heat map")
    screenshot(page, "heatmap.png")
    check_zoom(page)

    open_case(page, instance_id)
    page.get_by_role("button", name="Show where contacts wait").click()
    page.wait_for_selector("#diagram[data-heat='true']")
    expect(page.locator("#heat-status")).to_contain_text("Heat map added")
    check_page(page, axe_source, "case with heat map")
    context.close()

    other, page = new_page(browser, hub.url, bypass_csp=True)
    sign_in(page, hub.support)
    expect(page.get_by_role("link", name="Timeliness")).to_have_count(0)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("For managers")
    check_page(page, axe_source, "dashboard refused")
    other.close()
