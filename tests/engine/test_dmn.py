"""Business rule tasks run DMN decision tables (issue 16.4): the RAG timescale as a table a
process owner edits in Camunda Modeler's DMN editor, its cells the engine's expressions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import checking, diagrams
from engine.bpmn.dmn import entry_test
from engine.expressions import ExpressionError
from tests.engine.conftest import DIAGRAMS
from tests.pathways.harness import Hub

TABLE = (DIAGRAMS / "rag_timescale.dmn").read_text()
PROCESS = (DIAGRAMS / "timescale.bpmn").read_text()


def folder_with(tmp_path: Path, table: str = TABLE, process: str = PROCESS) -> Path:
    folder = tmp_path / "processes"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timescale.bpmn").write_text(process)
    (folder / "rag_timescale.dmn").write_text(table)
    return folder


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(("rag", "due", "text"), [
    ("RED", "2026-11-23T14:00:00Z", "4 working hours"),  # Monday 10:00 + 4 Hub hours
    ("AMBER", "2026-11-24T17:15:00Z", "16 working hours"),  # 7.25 on Monday, 8.75 Tuesday
    ("GREEN", "2026-11-26T10:00:00Z", "72 hours"),  # elapsed time
])
def test_the_rag_timescale_comes_from_the_decision_table(
        database_url: str, tmp_path: Path, rag: str, due: str, text: str) -> None:
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder_with(tmp_path))
    instance = hub.start("timescale", {})
    hub.complete(instance, "ts_rate", rag=rag)
    deadline = hub.deadline(instance, "rag_timescale")
    assert deadline["started_at"] == at("2026-11-23T10:00:00Z")  # since=opened_at
    assert deadline["due"] == at(due)
    hub.complete(instance, "ts_assess", assessment="done")
    view = hub.view(instance)
    assert view["state"] == "completed"
    assert view["outcome"] == text  # ${rag_timescale_text}, the table's second output
    assert "ts_decide" in view["path"]
    hub.close()


def test_a_table_with_no_rule_for_the_data_is_an_incident_not_an_empty_answer(
        database_url: str, tmp_path: Path) -> None:
    gap = TABLE[:TABLE.index('<rule id="rule_green">')] + TABLE[TABLE.index("</decisionTable>"):]
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder_with(tmp_path, gap))
    instance = hub.start("timescale", {})
    hub.complete(instance, "ts_rate", rag="GREEN")
    view = hub.view(instance)
    assert view["state"] == "incident"
    assert "no rule of decision 'rag_timescale' matches its inputs (rag)" in view["error"]
    assert view["path"] == ["ts_start", "ts_rate", "ts_open"]
    hub.close()


def test_the_decision_table_is_part_of_the_process_version(database_url: str,
                                                           tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    [version] = hub.engine.deployments.versions()
    assert version["files"] == ["rag_timescale.dmn", "timescale.bpmn"]
    (folder / "rag_timescale.dmn").write_text(TABLE.replace("working_hours(4,", "working_hours(2,"))
    [deployed] = hub.engine.deploy()
    assert (deployed.version, deployed.new) == (2, True)  # a changed table is a new version
    instance = hub.start("timescale", {})
    hub.complete(instance, "ts_rate", rag="RED")
    assert hub.deadline(instance, "rag_timescale")["due"] == at("2026-11-23T12:00:00Z")
    hub.close()


BROKEN_TABLES = [
    ("an unsafe output", ("working_hours(4, since=opened_at)", "__import__('os')"),
     "rule 1, output rag_due: __import__() is not a function diagrams can call"),
    ("an unknown function", ("working_hours(4, since=opened_at)", "open('x')"),
     "open() is not a function diagrams can call"),
    ("an entry that is no test", ('<text>"RED"</text>', "<text>[1..4]</text>"),
     "rule 1, input RAG rating: '[1..4]' is neither a value"),
    ("an input that is no expression", ("<text>rag</text>", "<text>rag ==</text>"),
     "input 1 (RAG rating): is not valid Python"),
    ("an empty output", ('<text>"72 hours"</text>', "<text></text>"),
     "rule 3, output rag_timescale_text: is empty"),
    ("a hit policy not run", ('hitPolicy="UNIQUE"', 'hitPolicy="PRIORITY"'),
     "hit policy PRIORITY is not run here"),
    ("an output with no name", ('label="Due" name="rag_due" ', 'label="Due date" '),
     "output 1 has name 'Due date'"),
    ("not xml", ("</definitions>", ""), "not well-formed XML"),
    ("an entity (read as safely as a diagram)", ('<?xml version="1.0" encoding="UTF-8"?>',
                                                 '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x '
                                                 'SYSTEM "file:///etc/passwd">]>'),
     "has a DOCTYPE declaration"),
]


@pytest.mark.parametrize(("what", "change", "expected"), BROKEN_TABLES,
                         ids=[c[0] for c in BROKEN_TABLES])
def test_a_broken_table_is_a_problem_line(what: str, change: tuple[str, str],
                                          expected: str) -> None:
    assert change[0] in TABLE
    files = {"timescale.bpmn": PROCESS.encode(),
             "rag_timescale.dmn": TABLE.replace(change[0], change[1], 1).encode()}
    found, parsed = diagrams.validate_files(files)
    assert parsed is None
    assert any(expected in str(p) and str(p).startswith("rag_timescale.dmn") for p in found), \
        [str(p) for p in found]


def test_what_the_table_reads_and_sets_is_checked_like_any_expression(tmp_path: Path) -> None:
    # the table reads opened_at, which only the open_contact step before it sets
    without = PROCESS.replace('camunda:topic="open_contact"', 'camunda:topic="record_outcome"')
    report = checking.check([folder_with(tmp_path, process=without)], run=False)
    assert any("decision 'rag_timescale' reads 'opened_at', which nothing before it sets"
               in str(p) for p in report.errors), [str(p) for p in report.errors]
    # and a later expression may read its outputs: the timer reads rag_due
    report = checking.check([folder_with(tmp_path / "ok")], run=False)
    assert report.errors == []


def test_the_dry_run_runs_the_decision_table(tmp_path: Path) -> None:
    report = checking.check([folder_with(tmp_path)])
    assert report.errors == [], [str(p) for p in report.errors]
    assert report.dry_run is not None and report.dry_run.taken == report.dry_run.flows


@pytest.mark.parametrize(("entry", "kind"), [
    ("", "any"), ("-", "any"), ('"RED"', "value"), ("4", "value"),
    ('"RED", "AMBER"', "one_of"), ("< 4", "compare"), ('!= "GREEN"', "compare"),
    ('in ("A", "B")', "compare"), ("? > 2 and ? < 5", "expression"), ('"a?b"', "value"),
])
def test_input_entries_read_as_a_process_owner_writes_them(entry: str, kind: str) -> None:
    assert entry_test(entry)[0] == kind


@pytest.mark.parametrize("entry", ["[1..4]", "__import__('os')", "< ().__class__"])
def test_input_entries_that_are_no_test_or_unsafe_are_refused(entry: str) -> None:
    with pytest.raises(ExpressionError):
        entry_test(entry)


def test_a_result_variable_takes_the_result_as_camunda_maps_it(database_url: str,
                                                               tmp_path: Path) -> None:
    # as Camunda Modeler writes it for Camunda 7: the result in one variable
    process = PROCESS.replace('camunda:decisionRef="rag_timescale"',
                              'camunda:decisionRef="rag_timescale" camunda:resultVariable='
                              '"timescale" camunda:mapDecisionResult="singleResult"').replace(
        "<bpmn:timeDate>rag_due</bpmn:timeDate>",
        '<bpmn:timeDate>timescale["rag_due"]</bpmn:timeDate>').replace(
        'value="${rag_timescale_text}"', 'value="${timescale[\'rag_timescale_text\']}"')
    folder = folder_with(tmp_path, process=process)
    assert checking.check([folder], run=False).errors == []
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    instance = hub.start("timescale", {})
    hub.complete(instance, "ts_rate", rag="RED")
    assert hub.deadline(instance, "rag_timescale")["due"] == at("2026-11-23T14:00:00Z")
    hub.complete(instance, "ts_assess", assessment="done")
    assert hub.view(instance)["outcome"] == "4 working hours"
    hub.close()
    # the outputs are not in the data under their own names then
    misread = process.replace('timescale["rag_due"]', "rag_due")
    report = checking.check([folder_with(tmp_path / "misread", process=misread)], run=False)
    assert any("timer timeDate reads 'rag_due', which nothing before it sets" in str(p)
               for p in report.errors)
    wrong = process.replace('"singleResult"', '"singleEntry"')
    found, _ = diagrams.validate_files({"timescale.bpmn": wrong.encode(),
                                        "rag_timescale.dmn": TABLE.encode()})
    assert any("singleEntry needs a decision with one output; 'rag_timescale' has 2" in str(p)
               for p in found)
