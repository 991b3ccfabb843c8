"""The known week (tests/reports/history.py) as each reader gets it: the heat map, the
contacts register (CSV and XLSX, with and without names), the JSON API and who may call it,
`mash report`, the Prometheus metrics, and every figure on the dashboard page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from engine.api.app import create_app
from engine.api.auth import create_token
from engine.cli import main
from engine.reports.reader import reports_for
from engine.web import routes as web_routes
from tests.reports.history import MANAGER, PERIOD, Week

POD = "Pod Assistant Team Manager"
BSIO = "Business Support Information Officer"


@pytest.fixture(scope="module")
def service(week: Week) -> Iterator[tuple[TestClient, dict[str, str]]]:
    engine = week.hub.engine
    now = engine.clock.now()
    tokens = {who: create_token(engine.store, who, [role], now) for who, role in (
        ("admin", "admin"), ("manager", MANAGER), ("pod", POD), ("bsio", BSIO))}
    with TestClient(create_app(engine, extra_routes=web_routes)) as client:
        yield client, tokens


def signed_in(client: TestClient, week: Week, token: str) -> None:
    """A web session for the token, as signing in on the page opens one."""
    from engine.api.auth import caller_for
    from engine.web.pages.signin import open_session
    from engine.web.session import COOKIE

    engine = week.hub.engine
    caller = caller_for(engine.store, token, engine.clock.now())
    assert caller is not None
    client.cookies.set(COOKIE, open_session(engine.store, caller, engine.clock.now()))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the heat map ------------------------------------------------------------------------------

def test_the_heat_map_counts_and_times_each_step(week: Week) -> None:
    reports = reports_for(week.hub.engine)
    heat = reports.heatmap("first_response", reports.period("2026-11-23", "2026-12-02"))
    rows = {e["element_id"]: (e["kind"], e["passed"], e["timed"], e["basis"], e["median_hours"],
                              e["p90_hours"]) for e in heat["elements"]}
    # Verification, in Hub working hours: A 10:00-10:30, B Mon 16:00-Tue 09:00 (1.25 + 0.5),
    # C 09:00-09:30, D 10:00-10:30: median 0.5 h; 90th percentile (nearest rank 4 of 4) 1.75 h.
    # H, F and G are still at it: not timed, not passed.
    assert rows["verify"] == ("person", 4, 4, "working", 0.5, 1.75)
    # The decision: A opened 16:00 done 16:15; B opened Thu 26 10:00, done Mon 30 10:00:
    # Thu 7.25 + Fri 8.25 + Mon 1.5 = 17 working hours. Median (0.25 + 17) / 2.
    assert rows["decision"] == ("person", 2, 2, "working", 8.62, 17.0)
    # The MASH risk assessment (a call activity) waits from the step before it, A's routing
    # at 11:15, to its end at 16:00, in elapsed hours; C is still inside it.
    assert rows["risk_assessment_call"] == ("waiting", 1, 1, "elapsed", 4.75, 4.75)
    # Automatic steps take no time: counted only (all seven contacts were looked up).
    assert rows["look_up_case_records"] == ("automatic", 7, 0, None, None, None)
    # A step of another process in the same file (the risk assessment) is there too.
    assert rows["allocate_social_worker"] == ("person", 1, 1, "working", 0.25, 0.25)
    # Busiest wait first: the sub-processes that hold a contact for days lead.
    assert heat["elements"][0]["p90_hours"] == max(e["p90_hours"] or 0 for e in heat["elements"])
    narrow = reports.heatmap("first_response", reports.period("2026-11-25", "2026-11-25"))
    assert {e["element_id"]: e["passed"] for e in narrow["elements"]}["verify"] == 1  # D only


# -- the register ------------------------------------------------------------------------------

REGISTER = [
    # reference, age band, date, time, source, channel, RAG, decided, within a day, outcome,
    # re-referral
    ("C1", "10 to 15", "2026-11-23", "10:00", "Oakdale School", "email", "RED", "2026-11-23",
     "Yes", "s47", "Yes"),
    ("B", "Under 1", "2026-11-23", "16:00", "Member of the public", "phone", "GREEN",
     "2026-11-24", "Yes", "early_help", "No"),
    # born 24 Nov 2010: 16 on the day of contact
    ("C", "16 and over", "2026-11-24", "09:00", "Oakdale School", "portal", "AMBER",
     "2026-11-24", "Yes", "Not decided yet", "No"),
    ("D", "Not known", "2026-11-25", "10:00", "Oakdale School", "email", "Not rated",
     "2026-11-25", "Yes", "nfa", "No"),
    # born 29 Nov 2022: still 3 on Sat 28 Nov 2026
    ("F", "1 to 4", "2026-11-28", "10:00", "Oakdale School", "phone", "Not rated", "",
     "No (not decided yet)", "Not decided yet", "No"),
]


def expected(week: Week) -> list[tuple[str, ...]]:
    """The register with each child's reference: the case record id, else the mash id."""
    return [(week.ids.get(r[0], r[0]), *r[1:]) for r in REGISTER]


def test_the_register_has_the_columns_of_an_inspection_return(week: Week) -> None:
    reports = reports_for(week.hub.engine)
    found = reports.register(reports.period(*PERIOD), reports.filters(), names=False)
    assert [key for key, _ in found.columns] == [
        "child_reference", "age_band", "contact_date", "contact_time", "source", "channel",
        "rag", "decision_date", "decision_within_one_working_day", "outcome", "re_referral",
        "mash_id"]
    assert [tuple(r.values())[:11] for r in found.rows] == expected(week)
    assert all("Alex Example" not in str(r) and "Teacher" not in str(r) for r in found.rows)
    named = reports.register(reports.period(*PERIOD), reports.filters(), names=True)
    assert [r["child_name"] for r in named.rows] == ["Alex Example"] * 5


def test_the_api_serves_the_register_as_csv_and_xlsx_to_managers(
        week: Week, service: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = service
    query = f"/reports/contacts?from={PERIOD[0]}&to={PERIOD[1]}"
    answer = client.get(query + "&format=csv", headers=bearer(tokens["manager"]))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "contacts-2026-11-23-to-2026-11-29.csv" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Child reference", "Age band at contact", "Date of contact"]
    assert [tuple(r[:11]) for r in rows[1:]] == expected(week)
    answer = client.get(query + "&format=xlsx&names=true", headers=bearer(tokens["admin"]))
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    cells = [tuple("" if c is None else str(c) for c in row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0][-1] == "Child's name"
    assert [r[:11] for r in cells[1:]] == expected(week)
    assert [r[-1] for r in cells[1:]] == ["Alex Example"] * 5
    # names only for the roles allowed them; MI only for managers
    refused = client.get(query + "&names=true", headers=bearer(tokens["pod"]))
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "names"
    assert client.get(query, headers=bearer(tokens["pod"])).status_code == 200
    assert client.get(query, headers=bearer(tokens["bsio"])).status_code == 403
    assert client.get(query).status_code == 401
    bad = client.get(query + "&format=pdf", headers=bearer(tokens["admin"]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"


def test_a_cell_a_spreadsheet_would_run_is_written_as_text() -> None:
    from engine.reports.register import Register, as_csv

    found = Register([("source", "Source")], [{"source": "=HYPERLINK(\"x\")"}])
    assert as_csv(found).splitlines()[1] == '"\'=HYPERLINK(""x"")"'


def test_mash_report_contacts_writes_the_register(
        week: Week, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = str(week.hub.store.engine.url.render_as_string(hide_password=False))
    url = url.replace("postgresql+psycopg://", "postgresql://")
    common = ["--from", PERIOD[0], "--to", PERIOD[1], "--database", url]
    assert main(["report", "contacts", *common, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [tuple(r[:11]) for r in rows[1:]] == expected(week)
    out = tmp_path / "c.xlsx"
    assert main(["report", "contacts", *common, "--format", "xlsx", "--output", str(out)]) == 0
    assert "5 contacts" in capsys.readouterr().err
    assert load_workbook(out).active.max_row == 6
    assert main(["report", "contacts", "--from", "30/11/2026", "--database", url]) == 2
    assert "--from: '30/11/2026' is not a date YYYY-MM-DD" in capsys.readouterr().err
    assert main(["report", "timeliness", *common]) == 0
    printed = capsys.readouterr().out
    assert "Contacts received 2026-11-23 to 2026-11-29: 5 (email 2, phone 2, portal 1)" in printed
    assert re.search(r"rag_timescale \(GREEN\)\s+met\s+0\s+missed\s+1\s+0% met\s+median late 72 h",
                     printed)


# -- the API's JSON ------------------------------------------------------------------------------

def test_the_json_api_is_the_dashboards_numbers(
        week: Week, service: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = service
    answer = client.get(f"/reports/timeliness?from={PERIOD[0]}&to={PERIOD[1]}&rag=RED",
                        headers=bearer(tokens["manager"]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["contacts"]["total"] == 1 and body["filters"]["rag"] == "RED"
    assert body["period"] == {"from": "2026-11-23", "to": "2026-11-29", "days": 7,
                              "time_zone": "Europe/London"}
    refused = client.get("/reports/timeliness?channel=fax", headers=bearer(tokens["manager"]))
    assert refused.status_code == 422 and refused.json()["errors"] == [
        {"field": "channel", "message": "must be one of email, phone, portal, ppn"}]
    assert client.get("/reports/timeliness", headers=bearer(tokens["bsio"])).status_code == 403
    heat = client.get("/reports/heatmap/first_response?from=2026-11-23&to=2026-12-02",
                      headers=bearer(tokens["pod"]))
    assert heat.status_code == 200
    assert {e["element_id"]: e["passed"] for e in heat.json()["elements"]}["verify"] == 4
    assert client.get("/reports/heatmap/nothing", headers=bearer(tokens["admin"])).status_code == 404


# -- metrics ---------------------------------------------------------------------------------------

def test_metrics_count_deadlines_lateness_and_due_timers(
        week: Week, service: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = service
    text = client.get("/metrics", headers=bearer(tokens["admin"])).text
    lines = set(text.splitlines())
    for line in (
        # every contact, H and G too (the metrics are for all time, not a period)
        'mash_deadlines_met_total{deadline="decision",rag="AMBER"} 1',
        'mash_deadlines_met_total{deadline="decision",rag="none"} 1',  # D
        'mash_deadlines_missed_total{deadline="decision",rag="none"} 2',  # H and F
        'mash_deadlines_missed_total{deadline="rag_timescale",rag="GREEN"} 1',
        'mash_deadlines_missed_total{deadline="stage_1_response",rag="none"} 1',
        'mash_deadlines_overdue{deadline="decision",rag="none"} 2',
        'mash_deadlines_overdue{deadline="referrer_outcome",rag="AMBER"} 1',
        # H: due Tue 24 Nov 17:15, open at Wed 2 Dec 12:00: Wed, Thu, Mon, Tue 8.75 + Fri 8.25
        # + Wed 3.5 = 46.75 h;
        # F: 3.5 h. Buckets: le 1 none, le 4 one (F), le 72 both.
        'mash_deadline_lateness_hours_bucket{deadline="decision",rag="none",le="1"} 0',
        'mash_deadline_lateness_hours_bucket{deadline="decision",rag="none",le="4"} 1',
        'mash_deadline_lateness_hours_bucket{deadline="decision",rag="none",le="24"} 1',
        'mash_deadline_lateness_hours_bucket{deadline="decision",rag="none",le="72"} 2',
        'mash_deadline_lateness_hours_bucket{deadline="decision",rag="none",le="+Inf"} 2',
        'mash_deadline_lateness_hours_sum{deadline="decision",rag="none"} 50.2500',
        'mash_deadline_lateness_hours_count{deadline="decision",rag="none"} 2',
        'mash_deadline_lateness_hours_sum{deadline="rag_timescale",rag="GREEN"} 72.0000',
        "mash_timers_due 0",
    ):
        assert line in lines, line
    # a stage that ran out is missed but has no lateness: it will never be done
    assert 'mash_deadline_lateness_hours_count{deadline="stage_1_response",rag="none"}' not in text
    assert "# TYPE mash_deadline_lateness_hours histogram" in lines
    assert client.get("/metrics", headers=bearer(tokens["manager"])).status_code == 403


# -- the pages ---------------------------------------------------------------------------------------

def cells(html: str, table_id: str) -> list[list[str]]:
    """The rows of a table on a page, each cell's text with tags and spaces squeezed."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table is not None, table_id
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S):
        texts = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        found.append([" ".join(unescape(re.sub(r"<[^>]+>", " ", t)).split()) for t in texts])
    return found


def test_every_figure_on_the_dashboard_page(
        week: Week, service: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = service
    signed_in(client, week, tokens["manager"])
    try:
        page = client.get(f"/dashboard?from={PERIOD[0]}&to={PERIOD[1]}")
    finally:
        client.cookies.clear()
    assert page.status_code == 200
    html = page.text
    assert re.search(r'id="total-contacts">5<', html) and re.search(r'id="re-referrals">1<', html)
    assert cells(html, "received-table") == [
        ["Day", "Email", "Phone", "Portal", "Total"],
        ["Mon 23", "1", "1", "0", "2"], ["Tue 24", "0", "0", "1", "1"],
        ["Wed 25", "1", "0", "0", "1"], ["Thu 26", "0", "0", "0", "0"],
        ["Fri 27", "0", "0", "0", "0"], ["Sat 28", "0", "1", "0", "1"],
        ["Sun 29", "0", "0", "0", "0"]]
    assert cells(html, "deadlines-table")[1:] == [
        ["Decision", "4", "0", "1", "0", "80%", "0", "3.5 h", "3.5 h", "3.5 h", "Hub working hours"],
        ["RAG timescale", "0", "2", "1", "0", "0%", "0", "38 h", "72 h", "72 h",
         "each on its own clock"],
        ["RAG timescale (RED)", "0", "1", "0", "0", "0%", "0", "1 h", "1 h", "1 h",
         "Hub working hours"],
        ["RAG timescale (AMBER)", "0", "0", "1", "0", "0%", "0", "38 h", "38 h", "38 h",
         "Hub working hours"],
        ["RAG timescale (GREEN)", "0", "1", "0", "0", "0%", "0", "72 h", "72 h", "72 h",
         "elapsed hours"],
        ["Referrer outcome", "2", "0", "1", "0", "67%", "0", "3.5 h", "3.5 h", "3.5 h",
         "Hub working hours"]]
    assert cells(html, "stages-table")[1:] == [
        ["Stage 1 response", "0", "0", "0", "1", "0%", "0", "—", "—", "—", "Hub working hours"],
        ["Stage 2 response", "1", "0", "0", "0", "100%", "0", "—", "—", "—", "Hub working hours"]]
    assert cells(html, "lateness-table")[1:4] == [
        ["Decision", "4", "0", "1", "0", "0", "0", "0"],
        ["RAG timescale", "0", "1", "0", "0", "0", "2", "0"],
        ["RAG timescale (RED)", "0", "1", "0", "0", "0", "0", "0"]]
    assert cells(html, "outcomes-table")[1:] == [
        ["Early help", "1 (20%)"], ["NFA", "1 (20%)"], ["S47", "1 (20%)"],
        ["Not decided yet", "2 (40%)"]]
    assert cells(html, "open-table")[1:] == [
        [BSIO, "3", "2", "Mon 23 Nov 2026, 09:00", "63.75 working hours"],
        [POD, "1", "1", "Tue 24 Nov 2026, 10:00", "54.0 working hours"]]
    # each chart is an image with a name, beside its table; the exports keep the filters
    assert html.count('<svg class="chart" role="img"') >= 5
    assert "/dashboard/contacts.csv?from=2026-11-23&amp;to=2026-11-29" in html
    assert "names=yes" in html  # the MASH Team Manager may add names


def test_pages_for_managers_only_and_downloads_keep_names_to_the_allowed(
        week: Week, service: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = service
    try:
        signed_in(client, week, tokens["bsio"])
        assert client.get("/dashboard").status_code == 403
        assert client.get("/processes/first_response").status_code == 403
        assert "Timeliness" not in client.get("/inbox").text
        signed_in(client, week, tokens["pod"])
        page = client.get(f"/dashboard?from={PERIOD[0]}&to={PERIOD[1]}")
        assert page.status_code == 200 and "names=yes" not in page.text
        assert client.get(f"/dashboard/contacts.csv?from={PERIOD[0]}&to={PERIOD[1]}&names=yes"
                          ).status_code == 403
        download = client.get(f"/dashboard/contacts.csv?from={PERIOD[0]}&to={PERIOD[1]}")
        assert download.status_code == 200 and len(download.text.splitlines()) == 6
        assert client.get("/dashboard?from=2026-13-01").status_code == 422
        heat = client.get("/processes/first_response?from=2026-11-23&to=2026-12-02")
        assert heat.status_code == 200
        verify = next(r for r in cells(heat.text, "heat-table")
                      if r and r[0].startswith("Verification"))
        assert verify[1:] == ["a person's task", "4", "30 min", "1.8 h", "Hub working hours"]
        data = client.get("/processes/first_response/heatmap.json?from=2026-11-23&to=2026-12-02")
        assert data.status_code == 200 and data.json()["xml"].startswith("<?xml")
    finally:
        client.cookies.clear()
