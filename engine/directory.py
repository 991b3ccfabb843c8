"""The directory: who a notification reaches (`processes/directory.toml`, beside the diagrams).

- `[roles]`: a role (lane name) -> its shared mailbox(es)
- `[authorities]`: a neighbouring local authority -> its children's front door
- `[teams.NAME]`: a case-holding team -> `manager`, `assistant_manager`, `business_support`

A process owner edits it; a name missing from it is an error at the step that needs it,
naming what to add, never a silently dropped notification.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .calendar_config import _display_name, _KeyLines, _syntax_message

DIRECTORY_FILE = "directory.toml"
TEAM_KEYS = ("manager", "assistant_manager", "business_support")


class DirectoryError(ValueError):
    pass


@dataclass
class RoleDirectory:
    roles: dict[str, list[str]] = field(default_factory=dict)
    authorities: dict[str, str] = field(default_factory=dict)
    teams: dict[str, dict[str, str]] = field(default_factory=dict)
    source: str = DIRECTORY_FILE

    def addresses(self, role: str) -> list[str]:
        found = self.roles.get(role)
        if not found:
            raise DirectoryError(f"no address for role {role!r} in {self.source}; add it under [roles]")
        return list(found)

    def authority(self, name: str) -> str:
        found = self.authorities.get(name)
        if not found:
            raise DirectoryError(
                f"no front door address for {name!r} in {self.source}; add it under [authorities]")
        return found

    def team(self, name: str) -> dict[str, str]:
        found = self.teams.get(name)
        if not found:
            raise DirectoryError(f"no team {name!r} in {self.source}; add [teams.\"{name}\"]")
        return dict(found)


def _email(value: Any) -> bool:
    return isinstance(value, str) and "@" in value and " " not in value.strip() \
        and len(value) <= 320


def load_directory(processes: Path) -> RoleDirectory:
    """The directory beside the diagrams (empty if there is none); raises DirectoryError
    naming the file, the line and the fix of the first problem."""
    directory, problems = read_directory(processes)
    if problems:
        raise DirectoryError(problems[0])
    return directory


def read_directory(processes: Path) -> tuple[RoleDirectory, list[str]]:
    """The directory and every problem in it, one line each (`file line N: what to do`)."""
    path = processes / DIRECTORY_FILE
    shown = _display_name(path)
    if not path.exists():
        return RoleDirectory(source=str(path)), []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return RoleDirectory(source=str(path)), [f"{shown}: cannot be read ({err})"]
    return read_directory_text(text, shown, str(path))


def parse_directory(text: str, source: str = DIRECTORY_FILE) -> RoleDirectory:
    """A directory from its text (as deployed: engine/deployments.py); raises DirectoryError
    with the first problem."""
    directory, problems = read_directory_text(text, source, source)
    if problems:
        raise DirectoryError(problems[0])
    return directory


def read_directory_text(text: str, shown: str, source: str) -> tuple[RoleDirectory, list[str]]:
    """The directory in `text` and every problem in it (`shown` names the file in them)."""
    path = source
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return RoleDirectory(source=str(path)), [_syntax_message(shown, err, text)]
    lines = _KeyLines(text)
    problems: list[str] = []

    def fail(where: tuple[str | int, ...], message: str) -> None:
        line = lines.line(where)
        problems.append(f"{shown} line {line}: {message}" if line else f"{shown}: {message}")

    for section in document:
        if section not in ("roles", "authorities", "teams"):
            fail((section,), f"unknown section [{section}]; use [roles], [authorities] and "
                 "[teams.NAME]")
    sections = {}
    for section in ("roles", "authorities", "teams"):
        value = document.get(section, {})
        if not isinstance(value, dict):
            fail((section,), f"{section} must be a table, [{section}]")
            value = {}
        sections[section] = value
    roles: dict[str, list[str]] = {}
    for role, value in sections["roles"].items():
        addresses = [value] if isinstance(value, str) else value
        if not isinstance(addresses, list) or not addresses or not all(map(_email, addresses)):
            fail(("roles", role), f"role {role!r}: give an email address or a list of them, "
                 'e.g. "duty.sw@example.org" or ["a@example.org", "b@example.org"]')
            continue
        roles[role] = addresses
    authorities: dict[str, str] = {}
    for name, value in sections["authorities"].items():
        if not _email(value):
            fail(("authorities", name), f"authority {name!r}: give its front door's email "
                 "address")
            continue
        authorities[name] = value
    teams: dict[str, dict[str, str]] = {}
    for name, value in sections["teams"].items():
        if not isinstance(value, dict) or set(value) - set(TEAM_KEYS) or \
                not all(map(_email, value.values())):
            fail(("teams", name), f"team {name!r}: give {', '.join(TEAM_KEYS)} as email "
                 "addresses")
            continue
        teams[name] = value
    return RoleDirectory(roles, authorities, teams, str(path)), problems
