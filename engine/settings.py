"""Where the engine finds its diagrams, configuration and database.

Environment variables, so the service, the CLI and the tests agree:
- `MASH_PROCESSES`: the folder of diagrams and their configuration (`calendar.toml`,
  `directory.toml`); default `./processes` when it exists, else the repository's own.
- `MASH_DATABASE_URL`: SQLAlchemy URL; default an SQLite file `mash.sqlite` in the working
  directory.
"""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY_PROCESSES = Path(__file__).resolve().parent.parent / "processes"


def processes_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if env := os.environ.get("MASH_PROCESSES"):
        return Path(env)
    local = Path.cwd() / "processes"
    if local.is_dir():
        return local
    return REPOSITORY_PROCESSES


def database_url(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    return os.environ.get("MASH_DATABASE_URL") or f"sqlite:///{Path.cwd() / 'mash.sqlite'}"
