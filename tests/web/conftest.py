"""Fixtures for the page tests: the real service on the real diagrams (or, before
processes/first_response.bpmn exists, the stand-in in tests/web/diagrams), its tokens, and a
headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.browser import ARGS, CHROMIUM
from tests.web.service import REPOSITORY, Service

REAL = REPOSITORY / "processes"
STAND_IN = Path(__file__).parent / "diagrams"
MANAGER = "MASH Team Manager / Early Help Decision Maker"
SUPPORT = "Business Support Officer"


def processes_for_tests(folder: Path) -> Path:
    """The real processes folder when it has the front door diagram, else a copy of it with
    the stand-in diagram (calendar and directory kept). MASH_WEB_DIAGRAMS=stand-in picks
    the stand-in, to tell a page bug from a diagram being redrawn."""
    if os.environ.get("MASH_WEB_DIAGRAMS") != "stand-in" and \
            (REAL / "first_response.bpmn").exists():
        return REAL
    folder.mkdir()
    for name in ("calendar.toml", "directory.toml"):
        if (REAL / name).exists():
            shutil.copy(REAL / name, folder / name)
    shutil.copy(STAND_IN / "first_response.bpmn", folder / "first_response.bpmn")
    return folder


@dataclass
class Hub:
    """A running service and a token for each kind of person the tests play."""

    service: Service
    admin: str
    manager: str
    manager_2: str
    support: str

    @property
    def url(self) -> str:
        return self.service.url


def start_hub(folder: Path) -> Iterator[Hub]:
    service = Service(processes_for_tests(folder / "processes"), folder / "mash.sqlite")
    service.start()
    try:
        yield Hub(service, admin=service.token("admin", name="Ada Admin"),
                  manager=service.token(MANAGER, name="Maya Manager"),
                  manager_2=service.token(MANAGER, name="Mo Manager"),
                  support=service.token(SUPPORT, name="Ben Support"))
    finally:
        service.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One service for a module's tests (they do not move its clock)."""
    yield from start_hub(tmp_path_factory.mktemp("web"))


@pytest.fixture
def own_hub(tmp_path: Path) -> Iterator[Hub]:
    """A service of the test's own, whose clock it may move."""
    yield from start_hub(tmp_path)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the page tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()
