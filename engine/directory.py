"""The role directory: who a notification to a role reaches (`processes/directory.toml`).

    [roles]
    "MASH Team Manager" = ["mash.managers@bcp.invalid"]

A process owner edits it beside the diagrams; a role missing from it is an error at the
step that needs it, naming the role, never a silent drop.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DIRECTORY_FILE = "directory.toml"


class DirectoryError(ValueError):
    pass


@dataclass
class RoleDirectory:
    roles: dict[str, list[str]] = field(default_factory=dict)
    source: str = DIRECTORY_FILE

    def addresses(self, role: str) -> list[str]:
        found = self.roles.get(role)
        if not found:
            raise DirectoryError(f"no address for role {role!r} in {self.source}; add it there")
        return list(found)


def load_directory(processes: Path) -> RoleDirectory:
    path = processes / DIRECTORY_FILE
    if not path.exists():
        return RoleDirectory(source=str(path))
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise DirectoryError(f"{path}: {err}") from None
    unknown = set(document) - {"roles"}
    if unknown:
        raise DirectoryError(f"{path}: unknown section {sorted(unknown)[0]!r}; only [roles]")
    roles: dict[str, list[str]] = {}
    for role, value in document.get("roles", {}).items():
        addresses = [value] if isinstance(value, str) else value
        if not isinstance(addresses, list) or not all(
                isinstance(a, str) and "@" in a for a in addresses):
            raise DirectoryError(f"{path}: role {role!r}: give an email address or a list of them")
        roles[role] = addresses
    return RoleDirectory(roles, str(path))
