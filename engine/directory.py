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
    return isinstance(value, str) and "@" in value and " " not in value.strip()


def load_directory(processes: Path) -> RoleDirectory:
    path = processes / DIRECTORY_FILE
    if not path.exists():
        return RoleDirectory(source=str(path))
    return parse_directory(path.read_text(encoding="utf-8"), str(path))


def parse_directory(text: str, path: str = DIRECTORY_FILE) -> RoleDirectory:
    """A directory from its text (as deployed: engine/deployments.py); `path` names it."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DirectoryError(f"{path}: {err}") from None
    unknown = set(document) - {"roles", "authorities", "teams"}
    if unknown:
        raise DirectoryError(f"{path}: unknown section [{sorted(unknown)[0]}]; "
                             "use [roles], [authorities] and [teams.NAME]")
    roles: dict[str, list[str]] = {}
    for role, value in document.get("roles", {}).items():
        addresses = [value] if isinstance(value, str) else value
        if not isinstance(addresses, list) or not addresses or not all(map(_email, addresses)):
            raise DirectoryError(f"{path}: role {role!r}: give an email address or a list of them")
        roles[role] = addresses
    authorities: dict[str, str] = {}
    for name, value in document.get("authorities", {}).items():
        if not _email(value):
            raise DirectoryError(f"{path}: authority {name!r}: give its email address")
        authorities[name] = value
    teams: dict[str, dict[str, str]] = {}
    for name, value in document.get("teams", {}).items():
        if not isinstance(value, dict) or set(value) - set(TEAM_KEYS) or \
                not all(map(_email, value.values())):
            raise DirectoryError(f"{path}: team {name!r}: give {', '.join(TEAM_KEYS)} as email "
                                 "addresses")
        teams[name] = value
    return RoleDirectory(roles, authorities, teams, path)
