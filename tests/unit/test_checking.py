"""`mash validate` and `mash deploy` check the configuration beside the diagrams (issue 16.2)
and what the handlers need of it: one line per problem, with its file and line, never a
traceback; a calendar that leaves nobody on duty is warned about."""

from __future__ import annotations

import shutil
from datetime import datetime, time
from pathlib import Path

import pytest

import tests.engine.conftest  # noqa: F401 - registers the test handlers
from engine import checking, diagrams
from engine.calendar_config import CalendarConfig, OutOfHours, TimeRange, duty_gaps
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
REVIEW = (ROOT / "tests" / "diagrams" / "review.bpmn").read_text()
CALENDAR = (PROCESSES / "calendar.toml").read_text()
DIRECTORY = (PROCESSES / "directory.toml").read_text()


def review_with(tmp_path: Path, calendar: str | None = None, directory: str | None = None,
                diagram: str = REVIEW) -> Path:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_text(diagram)
    if calendar is not None:
        (folder / "calendar.toml").write_text(calendar)
    if directory is not None:
        (folder / "directory.toml").write_text(directory)
    return folder


BAD_FRIDAY = CALENDAR.replace('friday = "08:30-16:45"', 'friday = "8.30am-4pm"')
FRIDAY_LINE = CALENDAR.splitlines().index('friday = "08:30-16:45"') + 1


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_a_calendar_mistake_is_a_line_of_mash_validate(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = review_with(tmp_path, calendar=BAD_FRIDAY)
    assert main(["validate", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f'{folder / "calendar.toml"} line {FRIDAY_LINE}: hub_hours.friday "8.30am-4pm": 8.30am is not a '
        'time; write HH:MM-HH:MM or "closed"']
    assert "1 problem; nothing was deployed" in err and "Traceback" not in out + err


def test_a_calendar_mistake_stops_mash_deploy_with_the_line_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = review_with(tmp_path, calendar=BAD_FRIDAY)
    database = tmp_path / "mash.sqlite"
    monkeypatch.setenv("MASH_DATABASE_URL", f"sqlite:///{database}")
    assert main(["deploy", "--processes", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "not deployed; fix these first:" in err
    assert f'line {FRIDAY_LINE}: hub_hours.friday "8.30am-4pm": 8.30am is not a time' in err
    assert not database.exists()  # nothing written: no database, no version


DUTY, TEAM = '"Duty Social Worker"', '[teams."Assessment Team 1"]'


def test_directory_mistakes_are_lines_with_their_line_numbers(tmp_path: Path) -> None:
    directory = DIRECTORY.replace('"Duty Social Worker" = ["duty.sw@bcp.invalid"]',
                                  '"Duty Social Worker" = "duty social worker"').replace(
        'business_support = "at1.bs@bcp.invalid"', 'business_support = "at1.bs@bcp.invalid"\n'
        'deputy = "x@bcp.invalid"') + "\n[mailboxes]\nx = 1\n"
    report = checking.check([review_with(tmp_path, directory=directory)], run=False)
    shown = tmp_path / "processes" / "directory.toml"
    lines = {name: line_of(directory, start) for name, start in (
        ("section", "[mailboxes]"), ("duty", DUTY), ("team", TEAM))}
    assert [str(p) for p in report.errors] == [
        f"{shown} line {lines['section']}: unknown section [mailboxes]; use [roles], "
        "[authorities] and [teams.NAME]; fix directory.toml",
        f"{shown} line {lines['duty']}: role 'Duty Social Worker': give an email address or a "
        'list of them, e.g. "duty.sw@example.org" or ["a@example.org", "b@example.org"]; fix '
        "directory.toml",
        f"{shown} line {lines['team']}: team 'Assessment Team 1': give manager, "
        "assistant_manager, business_support as email addresses; fix directory.toml"]


def test_times_when_neither_the_hub_nor_out_of_hours_is_on_duty_are_warned() -> None:
    # seed 000: the Hub closes 16:45 on a Friday; Out of Hours starts at 17:00
    assert duty_gaps(CalendarConfig.default()) == ["every friday 16:45-17:00"]
    covered = CalendarConfig(out_of_hours=OutOfHours(weekdays=TimeRange(time(16, 45), time(9))))
    assert duty_gaps(covered) == []
    no_weekends = CalendarConfig(out_of_hours=OutOfHours(weekends=False))
    assert duty_gaps(no_weekends) == ["every friday 16:45-17:00", "every saturday 00:00-24:00",
                                      "every sunday 00:00-24:00"]


def test_the_real_calendars_gap_is_a_warning_of_validate(tmp_path: Path) -> None:
    report = checking.check([review_with(tmp_path, calendar=CALENDAR)], run=False)
    assert report.errors == []
    assert [str(p) for p in report.warnings] == [
        f"{tmp_path / 'processes' / 'calendar.toml'}: warning: neither the Hub nor Out of Hours "
        "is on duty every friday 16:45-17:00; a contact then waits and an immediate safeguarding "
        "concern alerts nobody; check [hub_hours] and [out_of_hours]"]


NOTIFY = ('<bpmn:serviceTask id="breach" name="Tell the manager" camunda:type="external" '
          'camunda:topic="test_breach">')


@pytest.mark.parametrize(("properties", "expected"), [
    ('<camunda:property name="kind" value="deadline_breach" /><camunda:property name="to" '
     'value="role:Nobody" />',
     "notifies role 'Nobody', which has no address in"),
    ('<camunda:property name="kind" value="deadline_breach" /><camunda:property name="to" '
     'value="the manager" />', "notifies 'the manager', whom the notify handler does not know"),
    ('<camunda:property name="kind" value="deadline_breech" /><camunda:property name="to" '
     'value="role:Police" />', "no template for notification kind 'deadline_breech'"),
    ('<camunda:property name="to" value="role:Police" />',
     "the notify task has no property 'kind'"),
])
def test_what_a_notification_needs_of_the_directory_is_checked(
        tmp_path: Path, properties: str, expected: str) -> None:
    diagram = REVIEW.replace(NOTIFY, NOTIFY.replace("test_breach", "notify")[:-1]
                             + f"><bpmn:extensionElements><camunda:properties>{properties}"
                             "</camunda:properties></bpmn:extensionElements>")
    report = checking.check([review_with(tmp_path, directory=DIRECTORY, diagram=diagram)],
                            run=False)
    assert any(expected in str(p) and 'breach "Tell the manager"' in str(p)
               for p in report.errors), [str(p) for p in report.errors]


def test_mash_validate_on_the_real_processes(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    assert main(["validate", "--no-dry-run", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        "5 diagram(s) valid: escalation, first_response, missing_child, ppn_meeting, "
        "raise_concerns, risk_assessment", "the dry run was not run (--no-dry-run)",
        "1 warning(s)"]


def test_mash_validate_refuses_a_misspelt_name_with_the_nearest_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    diagram = folder / "first_response.bpmn"
    diagram.write_text(diagram.read_text().replace("working_days(1, since=received_at)",
                                                   "working_days(1, since=recieved_at)"))
    assert main(["validate", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert f"{diagram}: decision_due \"Decision due (1 working day)\": timer timeDate reads " \
           "'recieved_at', which nothing before it sets; did you mean 'received_at'?" in out
    assert "1 problem; nothing was deployed" in err


# -- every deploy a person asks for runs every check ------------------------------------------

MISSPELT = REVIEW.replace("<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
                          "<bpmn:conditionExpression>aproved</bpmn:conditionExpression>")


def test_post_deploy_and_a_first_start_run_every_check_of_mash_validate(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from engine.api.auth import create_token
    from engine.clock import as_utc
    from engine.serve import build

    start = as_utc(datetime.fromisoformat("2026-11-23T09:00:00+00:00"))
    folder = review_with(tmp_path, diagram=MISSPELT)
    url = f"sqlite:///{tmp_path / 'mash.sqlite'}"
    # The file on its own is well formed (the per-file checks pass); the name is not.
    assert diagrams.validate_files(diagrams.diagram_files([folder]))[0] == []
    with pytest.raises(checking.NotDeployed, match="did you mean 'approved'"):
        build(folder, url, start)  # a first start deploys as `mash deploy` would
    (folder / "review.bpmn").write_text(REVIEW)
    app, engine = build(folder, url, start)
    token = create_token(engine.store, "admin", ["admin"], engine.clock.now())
    (folder / "review.bpmn").write_text(MISSPELT)
    with TestClient(app) as client:
        answer = client.post("/deploy", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    assert any("did you mean 'approved'" in e["message"] for e in answer.json()["errors"])
    assert [(v["process"], v["version"]) for v in engine.deployments.versions()] == [("review", 1)]
    engine.store.dispose()


def test_mash_serve_on_a_broken_calendar_names_the_line_and_stops(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = review_with(tmp_path, calendar=BAD_FRIDAY)
    assert main(["serve", "--processes", str(folder),
                 "--database", f"sqlite:///{tmp_path / 'mash.sqlite'}"]) == 1
    err = capsys.readouterr().err
    assert f'line {FRIDAY_LINE}: hub_hours.friday "8.30am-4pm": 8.30am is not a time' in err
    assert "Traceback" not in err


def test_a_retention_mistake_is_a_line_of_mash_validate(tmp_path: Path) -> None:
    folder = review_with(tmp_path)
    (folder / "retention.toml").write_text('default_years = "seven"\n')
    report = checking.check([folder], run=False)
    assert [str(p) for p in report.errors] == [
        "processes/retention.toml line 1: default_years = 'seven'; write a whole number of "
        "years from 0 to 100, without quotes"]
