"""`mash simulate --compare DIR --html FILE` writes a before/after report (issue 16, item 10):
both folders named; changes with their direction in words as well as colour; lateness per
deadline and RAG in hours; disagreements compared; contacts that end differently with both
paths; the heat map on each diagram. Checked in the HTML and drawn in Chromium."""

from __future__ import annotations

import copy
import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from engine.cli import main
from engine.simulation.htmlreport import change, diverging
from tests.pathways.harness import PROCESSES
from tests.web.browser import ARGS, CHROMIUM, SCREENSHOTS

HERE = Path(__file__).parent
SCENARIO = json.loads((HERE / "scenario_all_outcomes.json").read_text())


def rows(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}">.*?</table>', html, re.S)
    assert table is not None, table_id
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """The scenario on the diagrams as they are and with RED's timescale cut to 2 working
    hours and every RED contact decided s17 instead of s47 at the management decision."""
    folder = tmp_path_factory.mktemp("compare")
    after = folder / "red-in-2-hours"
    shutil.copytree(PROCESSES, after)
    table = after / "rag_timescale.dmn"  # the RAG timescales, written once (issue 14.10)
    text = table.read_text(encoding="utf-8")
    timer = "<text>working_hours(4, "  # RED's timescale in the decision table
    assert text.count(timer) == 1
    table.write_text(text.replace(timer, timer.replace("(4, ", "(2, ")), encoding="utf-8")
    document = copy.deepcopy(SCENARIO)
    scenario = folder / "scenario.json"
    scenario.write_text(json.dumps(document))
    page = folder / "compare.html"
    assert main(["simulate", str(scenario), "--processes", str(PROCESSES), "--compare",
                 str(after), "--html", str(page)]) == 0
    return page.read_text(encoding="utf-8"), PROCESSES, after


def test_both_folders_are_named(compared: tuple[str, Path, Path]) -> None:
    html, before, after = compared
    assert f'id="before-name">{before}<' in html and f'id="after-name">{after}<' in html


def test_changes_have_a_direction_in_words(compared: tuple[str, Path, Path]) -> None:
    html, _, _ = compared
    table = {r[0]: r for r in rows(html, "deadlines")[1:]}
    # each deadline by its words and by its name in the diagram (the timer's `deadline`)
    assert "RAG timescale (RED) rag_timescale" in table
    # c1 (RED, Fri 15:00): opened 15:00, done Mon 15:45. 4 working hours: due Mon 10:45, 5 h
    # late; 2 working hours: due Mon 08:45, 7 h late. The red_at_night contact is met by both.
    red = table["RAG timescale (RED) rag_timescale"]
    assert red[1:5] == ["1 (50%)", "1", "1 (50%)", "1"]
    assert red[5] == "no change"
    assert red[6:10] == ["5 h", "5 h", "7 h", "7 h"]
    assert red[10] == "▲ +2 h worse" and red[11] == "▲ +2 h worse"
    assert 'class="worse">▲ +2 h worse' in html
    assert table["Decision decision"][5] == "no change"


def test_lateness_per_deadline_and_rag_in_hours(compared: tuple[str, Path, Path]) -> None:
    html, _, _ = compared
    assert "<h3>RAG timescale (RED)</h3>" in html
    section = html.split("<h2>How late")[1].split("<h2>Outcomes")[0]
    assert "minutes" not in section and "min<" not in section
    assert "How late: RAG timescale (RED)" in html  # the chart's name


def test_disagreements_are_compared(compared: tuple[str, Path, Path]) -> None:
    html, _, _ = compared
    outcomes = {r[0]: r[1:] for r in rows(html, "disagreement-outcomes")[1:]}
    assert outcomes["Partnership"] == ["1", "1", "no change"]
    stages = {r[0]: r for r in rows(html, "stages")[1:]}
    assert stages["Stage 1 response stage_1_response"][1:6] == ["3 (75%)", "1", "3 (75%)", "1", "no change"]


def test_contacts_that_end_differently_show_both_paths(compared: tuple[str, Path, Path]) -> None:
    html, _, _ = compared
    found = {r[0]: r for r in rows(html, "changed-contacts")[1:]}
    c1 = found["c1"]
    assert c1[1] == "same outcome and deadlines, by another path"
    # with 2 hours, the breach comes while the social worker is still assessing
    assert "Tell the manager the RAG timescale is missed" in c1[3]
    assert c1[2].startswith("the first ") and c1[3].startswith("the first ")


def test_the_heat_maps_and_charts_draw_without_fetching_anything(
        compared: tuple[str, Path, Path], tmp_path: Path) -> None:
    html, _, _ = compared
    body = html.split("<body>", 1)[1]
    # self-contained: nothing loaded from elsewhere (bpmn-js's own logo links to bpmn.io)
    assert not re.search(r'src="https?:|<link[^>]+https?:|url\(["\']?https?:', body)
    assert html.count('data-heat-source="heat-') == 4  # first_response and escalation, twice
    page_file = tmp_path / "r.html"
    page_file.write_text(html, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 800})
        page.goto(page_file.as_uri())
        page.wait_for_function("document.querySelectorAll('[data-ready=true]').length === 4",
                               timeout=60_000)  # four diagrams drawn; slow on a busy machine
        badges = page.eval_on_selector_all(".heat-badge", "els => els.map(e => e.textContent)")
        assert any(re.match(r"\d+ passed · median [\d.]+ (h|min) · 90% within", b) for b in badges)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]  # no sideways scrolling on a laptop
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # for docs/diagrams.md
        page.screenshot(path=str(SCREENSHOTS / "compare-report.png"))
        page.locator("#deadlines").screenshot(path=str(SCREENSHOTS / "compare-deadlines.png"))
        page.locator("#changed-contacts").screenshot(path=str(SCREENSHOTS / "compare-paths.png"))
        page.locator("[data-heat-source]").nth(1).screenshot(
            path=str(SCREENSHOTS / "compare-heatmap.png"))
        browser.close()


def test_a_change_reads_as_better_or_worse_by_what_is_measured() -> None:
    assert change(80, 90, "up", points=True) == {"text": "▲ +10 points", "css": "better",
                                                 "words": "better"}
    assert change(5, 7, "down", "h")["words"] == "worse"
    assert change(7, 5, "down", "h") == {"text": "▼ -2 h", "css": "better", "words": "better"}
    assert change(3, 5, "neither")["words"] == "more"
    assert change(None, 5, "up")["text"] == "—"
    assert diverging(["a", "b", "c"], ["a", "x"]) == (1, ["b", "c"], ["x"])


def test_a_single_run_report_is_in_hours_with_its_diagram(tmp_path: Path) -> None:
    document = copy.deepcopy(SCENARIO)
    document["contacts"] = document["contacts"][:1]
    document["disagreements"] = []
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(document))
    page = tmp_path / "one.html"
    assert main(["simulate", str(scenario), "--processes", str(PROCESSES), "--html",
                 str(page), "--json"]) == 0
    html = page.read_text(encoding="utf-8")
    missed = rows(html, "missed")
    assert missed[1] == ["c1", "RED", "RAG timescale", "s47"]
    assert "data-heat-source" in html and "Median, This run" in html
