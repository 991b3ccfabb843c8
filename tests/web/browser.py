"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright, and the steps
every page test shares: signing in, looking at a page, saving a screenshot of it."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from tests.web.service import REPOSITORY

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
# Screenshots go to out/ (untracked), so running the tests leaves the checkout clean;
# MASH_UPDATE_SCREENSHOTS=1 writes them into docs/screenshots to refresh the documentation.
SCREENSHOTS = REPOSITORY / ("docs" if os.environ.get("MASH_UPDATE_SCREENSHOTS") == "1"
                            else "out") / "screenshots"


def new_page(browser: Browser, base_url: str, bypass_csp: bool = False
             ) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (its own cookies) on a laptop-sized screen. `bypass_csp`: let
    a test inject a checking script (axe) despite the pages' Content-Security-Policy."""
    context = browser.new_context(base_url=base_url, viewport=LAPTOP, locale="en-GB",
                                  bypass_csp=bypass_csp)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def sign_in(page: Page, token: str, path: str = "/inbox") -> None:
    page.goto(path)
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
