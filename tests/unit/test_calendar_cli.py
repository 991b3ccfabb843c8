"""`mash deadline` and `mash hours`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main

REPOSITORY_PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `mash argv...`, whether it returns or exits."""
    try:
        code = main([*argv, "--processes", str(REPOSITORY_PROCESSES)])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("rule", "since", "expected", "shown"),
    [
        (["--working-hours", "4"], "2026-11-27T15:00:00Z", "2026-11-30T10:45:00Z",
         "Mon 30 Nov 2026 10:45"),
        (["--working-hours", "4"], "2026-11-27T15:00:00+00:00", "2026-11-30T10:45:00Z",
         "Mon 30 Nov 2026 10:45"),
        (["--working-hours", "0.5"], "2026-11-28T12:00:00Z", "2026-11-30T09:00:00Z",
         "Mon 30 Nov 2026 09:00"),
        (["--working-hours", "16"], "2026-11-23T16:00:00Z", "2026-11-25T14:30:00Z",
         "Wed 25 Nov 2026 14:30"),
        (["--working-days", "5"], "2026-11-23T10:00:00Z", "2026-11-30T17:15:00Z",
         "Mon 30 Nov 2026 17:15"),
        # BST: 10:45 on Mon 30 Mar 2026 is 09:45 UTC; people read 10:45, a program 09:45Z
        (["--working-hours", "4"], "2026-03-27T15:00:00Z", "2026-03-30T09:45:00Z",
         "Mon 30 Mar 2026 10:45"),
        (["--hours", "72"], "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z",
         "Mon 30 Mar 2026 13:00"),
        (["--hours", "1"], "2026-03-27T12:00:00.250000Z", "2026-03-27T13:00:00.250000Z",
         "Fri 27 Mar 2026 13:00"),
    ],
)
def test_deadline(
    capsys: pytest.CaptureFixture[str], rule: list[str], since: str, expected: str, shown: str
) -> None:
    """In the Hub's local time for people; in UTC with --json."""
    assert run(capsys, "deadline", *rule, "--from", since) == (0, shown + "\n", "")
    code, out, err = run(capsys, "deadline", *rule, "--from", since, "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["due"] == expected
    assert answer["rule"] == f"{rule[0][2:].replace('-', '_')}({float(rule[1]):g})"


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["deadline", "--working-hours", "four", "--from", "2026-11-27T15:00:00Z"], "not a number"),
        (["deadline", "--working-hours", "-4", "--from", "2026-11-27T15:00:00Z"], "zero or more"),
        (["deadline", "--working-hours", "nan", "--from", "2026-11-27T15:00:00Z"], "zero or more"),
        (["deadline", "--working-days", "1.5", "--from", "2026-11-27T15:00:00Z"], "whole number"),
        (["deadline", "--working-days", "-1", "--from", "2026-11-27T15:00:00Z"], "zero or more"),
        (["deadline", "--working-hours", "4", "--from", "2026-11-27T15:00:00"], "no time zone"),
        (["deadline", "--working-hours", "4", "--from", "27/11/2026 15:00"], "not an ISO 8601"),
        (["deadline", "--from", "2026-11-27T15:00:00Z"], "required"),
        (
            ["deadline", "--hours", "4", "--working-days", "1", "--from", "2026-11-27T15:00:00Z"],
            "not allowed with",
        ),
        (["deadline", "--hours", "1e12", "--from", "2026-11-27T15:00:00Z"], "too large"),
        (["hours", "--at", "tomorrow"], "not an ISO 8601"),
        (["hours", "--at", "2026-11-23T17:05:00"], "no time zone"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"mash {argv[0]}: ")
    assert complaint in err


def test_bad_calendar_file_gets_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "calendar.toml").write_text('[hub_hours]\nfriday = "08:30-25:00"\n')
    code = main(
        [
            "deadline",
            "--working-days",
            "1",
            "--from",
            "2026-11-27T15:00:00Z",
            "--processes",
            str(tmp_path),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("mash deadline: ")
    assert 'line 2: hub_hours.friday "08:30-25:00": 25:00 is not a time' in err


@pytest.mark.parametrize(
    ("moment", "lines"),
    [
        (
            "2026-11-23T12:00:00Z",
            ["At Mon 23 Nov 2026 12:00 (Hub time):", "First Response Hub: open until 17:15"],
        ),
        (
            "2026-11-23T17:05:00Z",
            [
                "At Mon 23 Nov 2026 17:05 (Hub time):",
                "First Response Hub: open until 17:15",
                "Out of Hours service: on duty",
            ],
        ),
        (
            "2026-11-28T12:00:00Z",
            [
                "At Sat 28 Nov 2026 12:00 (Hub time):",
                "Out of Hours service: on duty",
                "First Response Hub: closed, opens Mon 30 Nov 2026 08:30",
            ],
        ),
        (
            "2026-11-27T16:50:00Z",
            [
                "At Fri 27 Nov 2026 16:50 (Hub time):",
                "Neither service is on duty; First Response Hub: closed, opens Mon 30 Nov 2026 "
                "08:30",
            ],
        ),
        (
            "2026-11-23T07:00:00Z",
            [
                "At Mon 23 Nov 2026 07:00 (Hub time):",
                "Out of Hours service: on duty",
                "First Response Hub: closed, opens 08:30",
            ],
        ),
        # summer time: 16:00 UTC is 17:00 in London, and the Hub closes at 17:15 (16:15Z)
        (
            "2026-07-01T16:00:00Z",
            [
                "At Wed 01 Jul 2026 17:00 (Hub time):",
                "First Response Hub: open until 17:15",
                "Out of Hours service: on duty",
            ],
        ),
    ],
)
def test_hours(capsys: pytest.CaptureFixture[str], moment: str, lines: list[str]) -> None:
    code, out, err = run(capsys, "hours", "--at", moment)
    assert (code, err) == (0, "")
    assert out.splitlines() == lines


@pytest.mark.parametrize(
    ("moment", "hub_open", "out_of_hours"),
    [
        ("2026-11-23T08:45:00Z", True, True),
        ("2026-11-23T12:00:00Z", True, False),
        ("2026-12-25T12:00:00Z", False, True),
        ("2026-11-27T16:50:00Z", False, False),
    ],
)
def test_hours_json(
    capsys: pytest.CaptureFixture[str], moment: str, hub_open: bool, out_of_hours: bool
) -> None:
    code, out, _ = run(capsys, "hours", "--at", moment, "--json")
    assert code == 0
    answer = json.loads(out)
    assert {k: answer[k] for k in ("at", "hub_open", "out_of_hours")} == {
        "at": moment.replace("+00:00", "Z"),
        "hub_open": hub_open,
        "out_of_hours": out_of_hours,
    }
    assert (answer["closes"] is None) == (not hub_open)
    assert (answer["opens"] is None) == hub_open


def test_hours_json_reports_in_utc(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "hours", "--at", "2026-07-01T09:30:00+01:00", "--json")
    assert json.loads(out) == {"at": "2026-07-01T08:30:00Z", "hub_open": True,
                               "out_of_hours": False, "closes": "2026-07-01T16:15:00Z",
                               "opens": None}


def _mash_command() -> list[str] | None:
    script = Path(sys.executable).parent / "mash"
    if script.exists():
        return [str(script)]
    if (Path(__file__).resolve().parents[2] / "engine" / "cli" / "__main__.py").exists():
        return [sys.executable, "-m", "engine.cli"]
    return None


def test_installed_console_script() -> None:
    command = _mash_command()
    if command is None:
        pytest.skip("neither the mash console script nor engine/cli/__main__.py is installed")
    common = ["--processes", str(REPOSITORY_PROCESSES)]
    done = subprocess.run(
        [*command, "deadline", "--working-hours", "4", "--from", "2026-11-27T15:00:00Z", *common],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "Mon 30 Nov 2026 10:45\n", "")
    bad = subprocess.run(
        [*command, "deadline", "--working-hours", "-1", "--from", "2026-11-27T15:00:00Z", *common],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.count("\n") == 1


def test_without_an_instant_both_commands_answer_for_now(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC)
    _, out, _ = run(capsys, "hours", "--json")
    at = datetime.fromisoformat(json.loads(out)["at"])
    _, out, _ = run(capsys, "deadline", "--hours", "1", "--json")
    since = datetime.fromisoformat(json.loads(out)["from"])
    after = datetime.now(UTC)
    assert before <= at <= since <= after
    assert datetime.fromisoformat(json.loads(out)["due"]) - since == timedelta(hours=1)
