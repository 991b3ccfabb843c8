"""The pages as the front door uses them: headless Chromium on the real service.

Each test sets its scene through the API (a contact, the steps before the one it does) and
then works only through the pages, as a person would.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.web.browser import new_page, screenshot, sign_in
from tests.web.conftest import Hub
from tests.web.drive import deadline_running_before, drive, instance
from tests.web.steps import check_zoom, fill_brag, marked, new_case, open_case, path_of, submit


def test_every_page_needs_a_valid_token_kept_out_of_reach_of_scripts(hub: Hub,
                                                                      browser: Browser) -> None:
    context, page = new_page(browser, hub.url)
    for path in ("/", "/inbox", "/board", f"/case/{uuid.uuid4()}", f"/inbox/{uuid.uuid4()}"):
        page.goto(path)
        assert path_of(page) == "/signin", path

    page.goto("/inbox")
    page.get_by_label("Access token").fill("mash_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    field = page.locator(".field", has=page.locator("#token"))
    expect(field.locator(".error-message")).to_contain_text("not valid")
    expect(page.locator("#token")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_be_focused()

    sign_in(page, hub.manager)
    assert path_of(page) == "/inbox"
    expect(page.get_by_role("heading", level=1)).to_have_text("Your tasks")
    expect(page.get_by_text("Signed in as Maya Manager")).to_be_visible()
    session = next(c for c in context.cookies() if c["name"] == "mash_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "mash_session" not in page.evaluate("document.cookie")

    assert session["value"] != hub.manager and hub.manager not in session["value"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out")).to_be_visible()
    assert not [c for c in context.cookies() if c["name"] == "mash_session"]
    page.goto("/inbox")
    assert path_of(page) == "/signin"
    context.add_cookies([{k: session[k] for k in  # (the cookie as it was)
                          ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    page.goto("/inbox")  # the cookie of a signed-out session, kept somewhere: worthless
    assert path_of(page) == "/signin"
    context.close()


def test_a_claimed_task_is_kept_for_its_holder_until_released(hub: Hub, browser: Browser) -> None:
    instance_id, task_id = new_case(hub, "Kit Marsh", "C20005")
    first, first_page = new_page(browser, hub.url)
    second, second_page = new_page(browser, hub.url)
    sign_in(first_page, hub.manager, f"/inbox/{task_id}")
    sign_in(second_page, hub.manager_2, f"/inbox/{task_id}")
    first_page.get_by_role("button", name="Claim the task").click()
    expect(first_page.locator(".claim")).to_contain_text("You have claimed this task")

    second_page.reload()
    expect(second_page.locator(".claim")).to_contain_text("Maya Manager has claimed this task")
    fill_brag(second_page, "GREEN", "2", "confirmed", [])
    assert submit(second_page) == 409
    expect(second_page.get_by_role("alert")).to_contain_text("Your answers were not saved")
    assert instance(hub.service, hub.admin, instance_id)["rag"] is None

    # Mo manages too, so may take the claim off Maya; then Mo's answers go in.
    second_page.get_by_role("button", name="Release their claim").click()
    expect(second_page.locator(".claim")).to_contain_text("Nobody has claimed this task")
    fill_brag(second_page, "GREEN", "2", "confirmed", [])
    assert submit(second_page) == 303
    assert instance(hub.service, hub.admin, instance_id)["rag"] == "GREEN"
    first.close()
    second.close()


def test_the_inbox_lists_the_roles_open_tasks_with_working_time_left(hub: Hub,
                                                                     browser: Browser) -> None:
    _, task_id = new_case(hub, "Sam Smith", "C20001")
    context, page = new_page(browser, hub.url)
    sign_in(page, hub.manager)
    row = page.locator("tbody tr", has_text="Sam Smith")
    expect(row).to_contain_text("C20001")
    expect(row).to_contain_text("working time left")
    expect(row).to_contain_text("Not rated")
    expect(row.get_by_role("link")).to_have_attribute("href", f"/inbox/{task_id}")
    due = row.locator("time").first.get_attribute("datetime")
    assert due and due.startswith("2026-11-2")

    other, other_page = new_page(browser, hub.url)
    sign_in(other_page, hub.support)
    expect(other_page.get_by_role("heading", level=1)).to_have_text("Your tasks")
    expect(other_page.locator("tbody tr", has_text="Sam Smith")).to_have_count(0)
    other.close()
    context.close()


def test_a_brag_refused_beside_the_field_then_completed_moves_the_case(hub: Hub,
                                                                      browser: Browser) -> None:
    instance_id, task_id = new_case(hub, "Alex Jones", "C20002")
    context, page = new_page(browser, hub.url)
    addresses: list[str] = []
    context.on("request", lambda request: addresses.append(request.url))
    sign_in(page, hub.manager)

    open_case(page, instance_id)
    before = marked(page, "mash-current")
    assert before == {"brag"} or "brag" in before
    assert "brag" not in marked(page, "mash-done")

    page.goto("/inbox")
    page.locator("tbody tr", has_text="Alex Jones").get_by_role("link").click()
    assert path_of(page) == f"/inbox/{task_id}"
    expect(page.get_by_role("heading", level=1)).to_contain_text("BRAG")
    expect(page.locator(".column-details")).to_contain_text("Alex Jones")
    expect(page.locator(".column-details")).to_contain_text("Bruising seen")

    # Consent overridden without its reasons: refused, the message beside the field.
    fill_brag(page, "RED", "4", "overridden", [])
    assert submit(page) == 422
    group = page.locator("#group-consent_override_reasons")
    expect(group.locator(".error-message")).to_contain_text("is required")
    expect(group.locator("legend")).to_contain_text("Reasons for overriding consent")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("Reasons for overriding consent")
    expect(page.locator("input[name=rag][value=RED]")).to_be_checked()
    expect(page.locator("#field-threshold_level")).to_have_value("4")
    screenshot(page, "task.png")

    # Overridden below level 4: the diagram's own rule (valid_when), in its words.
    fill_brag(page, "RED", "3", "overridden", ["risk_of_harm"])
    assert submit(page) == 422
    expect(page.locator("#group-consent_decision .error-message")).to_contain_text("level 4")

    fill_brag(page, "RED", "4", "overridden", ["risk_of_harm", "unjustified_delay"])
    assert submit(page) == 303  # done: on to the inbox
    assert path_of(page) == "/inbox"
    expect(page.get_by_role("status")).to_contain_text("Task completed")
    expect(page.locator("tbody tr", has_text="Alex Jones")).to_have_count(0)

    page.get_by_role("link", name="See where the case is now").click()
    page.wait_for_selector("#diagram[data-ready='true']")
    assert path_of(page) == f"/case/{instance_id}"
    after, done = marked(page, "mash-current"), marked(page, "mash-done")
    assert "brag" in done and "brag" not in after
    assert after and after != before
    assert page.locator(".djs-connection.mash-taken").count() >= 1
    expect(page.locator("#diagram-status")).to_contain_text("Diagram drawn")
    expect(page.locator(".summary-inline")).to_contain_text("RED")
    history = page.locator("#history-heading + .history, section .history").first
    expect(history).to_contain_text("Maya Manager")
    expect(history).to_contain_text("risk", ignore_case=True)
    screenshot(page, "case.png")
    check_zoom(page)

    personal = ("Alex", "Jones", "C20002", "BH1", "Ann", "Teacher", "Oakdale")
    for address in addresses:
        assert not any(word.lower() in address.lower() for word in personal), address
    for address in addresses:
        for part in re.findall(r"/(?:inbox|case)/([^/?#]+)", address):
            assert part in (task_id, instance_id) or part == "diagram.json", address
    context.close()


def test_a_task_completed_by_someone_else_is_explained(hub: Hub, browser: Browser) -> None:
    instance_id, task_id = new_case(hub, "Riley Brown", "C20003")
    first, first_page = new_page(browser, hub.url)
    second, second_page = new_page(browser, hub.url)
    sign_in(first_page, hub.manager, f"/inbox/{task_id}")
    sign_in(second_page, hub.manager_2, f"/inbox/{task_id}")
    assert path_of(first_page) == path_of(second_page) == f"/inbox/{task_id}"

    fill_brag(first_page, "AMBER", "3", "confirmed", [])
    form_token = first_page.locator("form.task-form input[name=csrf]").input_value()
    assert submit(first_page) == 303
    fill_brag(second_page, "GREEN", "2", "confirmed", [])
    assert submit(second_page) == 409
    expect(second_page.get_by_role("heading", level=1)).to_have_text(
        "Someone else completed this task first")
    explained = second_page.get_by_role("alert")
    expect(explained).to_contain_text("Your answers were not saved")
    expect(explained).to_contain_text("Maya Manager completed")
    assert instance(hub.service, hub.admin, instance_id)["rag"] == "AMBER"

    # The same person's form sent twice (a double press): the second changes nothing.
    again = first_page.request.post(f"/inbox/{task_id}", form={
        "csrf": form_token, "rag": "RED", "consent_decision": "confirmed", "threshold_level": "3"})
    assert again.status == 409
    assert "You have already completed this task" in again.text()
    assert instance(hub.service, hub.admin, instance_id)["rag"] == "AMBER"

    second_page.goto(f"/inbox/{task_id}")
    expect(second_page.get_by_role("heading", level=1)).to_have_text(
        "This task has been completed")
    first.close()
    second.close()


def test_a_token_sees_only_its_roles_tasks_and_cases(hub: Hub, browser: Browser) -> None:
    instance_id, task_id = new_case(hub, "Jamie Green", "C20004")
    context, page = new_page(browser, hub.url)
    sign_in(page, hub.support)
    for path, heading in ((f"/inbox/{task_id}", "Not a task of your roles"),
                          (f"/case/{instance_id}", "Not a case of your roles")):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator("main")).not_to_contain_text("Jamie")
    assert page.request.get(f"/case/{instance_id}/diagram.json").status == 403
    posted = page.request.post(f"/inbox/{task_id}", form={"rag": "RED"})
    assert posted.status == 400  # no form token: nothing done
    context.close()

    # Signing in from a case's address comes back to it; admin sees every case.
    context, page = new_page(browser, hub.url)
    page.goto(f"/case/{instance_id}")
    assert path_of(page) == "/signin"
    page.get_by_label("Access token").fill(hub.admin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#diagram[data-ready='true']")
    assert path_of(page) == f"/case/{instance_id}"
    expect(page.get_by_role("heading", level=1)).to_have_text("Case: Jamie Green")
    expect(page.locator("details.viewed")).to_contain_text("Ada Admin")
    context.close()


def _board_rows(page: Page, section: str) -> Any:
    return page.locator(f"h2#{section} + .table-scroll tbody tr")


def test_a_breach_appears_on_the_board_when_the_clock_passes_a_deadline(own_hub: Hub,
                                                                       browser: Browser) -> None:
    hub = own_hub
    instance_id, task_id = new_case(hub, "Casey White", "C30001")
    new_case(hub, "Drew Black", "C30002")  # stays with the manager, on time
    context, page = new_page(browser, hub.url)
    sign_in(page, hub.manager, f"/inbox/{task_id}")
    fill_brag(page, "RED", "3", "confirmed", [])
    assert submit(page) == 303  # done: on to the inbox
    # Business Support opens the contact, and the RED timescale (4 working hours) runs.
    drive(hub.service, hub.admin, instance_id, deadline_running_before("2026-11-23T17:00:00Z"))

    page.goto("/board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Deadlines")
    expect(page.get_by_text("No deadline has been missed")).to_be_visible()
    expect(_board_rows(page, "today").filter(has_text="Casey White")).to_have_count(1)

    status, moved = hub.service.call("POST", "/clock/advance", hub.admin, {"by": "PT8H"})
    assert status == 200 and moved["now"] == "2026-11-23T17:00:00Z"
    page.reload()  # eight hours without a page: signed out, and back to the board after
    assert path_of(page) == "/signin"
    page.get_by_label("Access token").fill(hub.manager)
    page.get_by_role("button", name="Sign in").click()
    assert path_of(page) == "/board"
    expect(page.locator(".hub-time")).to_contain_text("17:00")
    breached = _board_rows(page, "breached").filter(has_text="Casey White")
    expect(breached).to_have_count(1)
    expect(breached).to_contain_text("Breached, still open")
    expect(breached).to_contain_text("RED")
    expect(_board_rows(page, "breached").filter(has_text="Drew Black")).to_have_count(0)
    expect(page.locator("table.counts")).to_contain_text("1 breached")

    page.get_by_label("RAG").select_option("GREEN")
    page.get_by_role("button", name="Show").click()
    expect(_board_rows(page, "breached")).to_have_count(0)
    page.get_by_label("RAG").select_option("RED")
    page.get_by_role("button", name="Show").click()
    expect(_board_rows(page, "breached").filter(has_text="Casey White")).to_have_count(1)
    page.goto("/board")
    screenshot(page, "deadlines.png")
    context.close()

    # The inbox of someone who sees every task: the overdue first, marked in words.
    context, page = new_page(browser, hub.url)
    sign_in(page, hub.admin)
    rows = page.locator("tbody tr")
    marks = [("Overdue" in text) for text in rows.all_inner_texts()]
    assert marks == sorted(marks, reverse=True), marks
    if any(marks):
        expect(rows.first.locator(".tag-overdue")).to_have_text(re.compile("Overdue"))
        expect(rows.first).to_contain_text("overdue by")
    screenshot(page, "inbox.png")
    context.close()


def test_the_api_reference_draws_with_nothing_from_another_site(hub: Hub, browser: Browser) -> None:
    context, page = new_page(browser, hub.url)
    addresses: list[str] = []
    problems: list[str] = []
    context.on("request", lambda request: addresses.append(request.url))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("mash")
    expect(page.locator(".opblock-summary-path", has_text="/contacts").first).to_be_visible()
    assert addresses and all(a.startswith(hub.url) or a.startswith("data:") for a in addresses), \
        [a for a in addresses if not a.startswith(hub.url)]
    assert problems == []  # nothing refused by the page's Content-Security-Policy
    context.close()
