"""Deployments and versions: what is in `processes/` becomes a numbered version per process.

A process's version stands for its own diagram and the definitions of the processes it calls
(engine/diagrams.py, `version_hash`). Deploying a changed diagram adds a version; unchanged
ones are left alone. Instances keep the version they started on; new instances take the
newest. Stored diagrams are parsed once per process and kept in memory.

The configuration beside the diagrams (`calendar.toml`: Hub hours and closures;
`directory.toml`: who is notified) is deployed with them and versioned the same way, by
content. Each deployment that changes anything is a new generation (`deployments` table);
every running service watches the generation and takes up a new one without a restart, so
all services on one database run the same versions, calendar and directory.

Only `mash deploy` (and `POST /deploy`, and `mash serve` on a database with nothing deployed
or with `--deploy`) deploys; everything else reads what is deployed. Two deployments at once
(two services starting on an empty database) queue on a lock and agree on the versions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import diagrams
from .calendar import WorkingCalendar
from .calendar_config import (
    CALENDAR_FILE,
    CalendarConfig,
    CalendarConfigError,
    calendar_for,
    parse_calendar_config,
)
from .directory import (
    DIRECTORY_FILE,
    DirectoryError,
    RoleDirectory,
    load_directory,
    parse_directory,
)
from .runtime import Version
from .store import Store, deployments, diagram_files, instances, process_versions

CONFIG_FILES = (CALENDAR_FILE, DIRECTORY_FILE)
_LOCK_KEY = 0x6D617368 + 1  # PostgreSQL advisory lock for deploying (schema.py takes the key before)


class UnknownProcess(LookupError):
    pass


@dataclass(frozen=True)
class Deployed:
    process_id: str
    name: str | None
    version: int
    hash: str
    new: bool


class Deployments:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._versions: dict[int, Version] = {}
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()

    def deploy(self, paths: list[Path], now: datetime) -> list[Deployed]:
        """Validate and deploy; raises diagrams.DiagramError (with every problem) on failure."""
        found = diagrams.load(paths)
        config = config_files(paths)
        results: list[Deployed] = []
        with self.store.transaction() as conn:
            lock(conn)
            for name, content in [*found.files.items(), *config.items()]:
                _store_file(conn, name, content, now)
            for pid, model in sorted(found.models.items()):
                digest = found.version_hash(pid)
                latest = conn.execute(
                    sa.select(process_versions.c.version, process_versions.c.hash)
                    .where(process_versions.c.process_id == pid)
                    .order_by(process_versions.c.version.desc()).limit(1)).first()
                if latest is not None and latest.hash == digest:
                    results.append(Deployed(pid, model.name, latest.version, digest, False))
                    continue
                number = (latest.version if latest else 0) + 1
                files = {n: diagrams.file_hash(found.files[n]) for n in found.files_for(pid)}
                conn.execute(process_versions.insert().values(
                    process_id=pid, version=number, hash=digest, name=model.name,
                    files=files, deployed_at=now))
                results.append(Deployed(pid, model.name, number, digest, True))
            config_hashes = {n: diagrams.file_hash(c) for n, c in config.items()}
            last = conn.execute(sa.select(deployments.c.files)
                                .order_by(deployments.c.id.desc()).limit(1)).first()
            if any(r.new for r in results) or last is None or last.files != config_hashes:
                current = dict(conn.execute(
                    sa.select(process_versions.c.process_id, sa.func.max(process_versions.c.version))
                    .group_by(process_versions.c.process_id)).all())
                conn.execute(deployments.insert().values(
                    deployed_at=now, files=config_hashes, versions=current))
        self.forget()
        return results

    def forget(self) -> None:
        """Read the newest versions again (a new deployment was seen)."""
        with self._lock:
            self._latest.clear()

    def generation(self) -> int:
        """The number of the newest deployment (0: none yet)."""
        with self.store.reading() as conn:
            return int(conn.execute(sa.select(sa.func.max(deployments.c.id))).scalar() or 0)

    def config(self) -> dict[str, bytes] | None:
        """The configuration files of the newest deployment; None when nothing is deployed
        with them (a database deployed by an older release)."""
        with self.store.reading() as conn:
            row = conn.execute(sa.select(deployments.c.files)
                               .order_by(deployments.c.id.desc()).limit(1)).first()
            if row is None:
                return None
            return {name: bytes(conn.execute(sa.select(diagram_files.c.content)
                                             .where(diagram_files.c.hash == digest)).scalar_one())
                    for name, digest in row.files.items()}

    def configuration(self, generation: int, processes: Path) -> tuple[WorkingCalendar,
                                                                      RoleDirectory]:
        """The calendar and directory a service runs with: those of the newest deployment,
        or, with none deployed with them, those in the processes folder."""
        config = self.config() if generation else None
        if config is None and not generation:
            # Nothing deployed yet: the folder's files serve until the first deploy, which
            # checks them; broken ones wait for it (and are refused there, line by line)
            # rather than stopping a service or command that has nothing to run anyway.
            try:
                return calendar_for(processes), load_directory(processes)
            except (CalendarConfigError, DirectoryError):
                return WorkingCalendar(CalendarConfig.default()), RoleDirectory()
        if config is None:
            return calendar_for(processes), load_directory(processes)
        calendar = WorkingCalendar(parse_calendar_config(
            config[CALENDAR_FILE].decode("utf-8"), f"{CALENDAR_FILE} (deployed)")) \
            if CALENDAR_FILE in config else WorkingCalendar(CalendarConfig.default())
        directory = parse_directory(config[DIRECTORY_FILE].decode("utf-8"),
                                    f"{DIRECTORY_FILE} (deployed)") \
            if DIRECTORY_FILE in config else RoleDirectory(source=DIRECTORY_FILE)
        return calendar, directory

    def anything_deployed(self) -> bool:
        with self.store.reading() as conn:
            return conn.execute(sa.select(process_versions.c.id).limit(1)).first() is not None

    def versions(self) -> list[dict[str, object]]:
        with self.store.reading() as conn:
            counts: dict[int, int] = dict(conn.execute(
                sa.select(instances.c.version_id, sa.func.count())
                .where(instances.c.state != "completed")
                .group_by(instances.c.version_id)).all())
            rows = conn.execute(sa.select(process_versions).order_by(
                process_versions.c.process_id, process_versions.c.version)).all()
        return [{
            "process": r.process_id, "name": r.name, "version": r.version,
            "hash": r.hash[:12], "deployed_at": r.deployed_at,
            "files": sorted(r.files), "running": counts.get(r.id, 0),
        } for r in rows]

    def latest(self, process_id: str) -> Version:
        with self._lock:
            version_id = self._latest.get(process_id)
        if version_id is None:
            with self.store.reading() as conn:
                version_id = conn.execute(
                    sa.select(process_versions.c.id)
                    .where(process_versions.c.process_id == process_id)
                    .order_by(process_versions.c.version.desc()).limit(1)).scalar()
            if version_id is None:
                raise UnknownProcess(process_id)
            with self._lock:
                self._latest[process_id] = version_id
        return self.version(version_id)

    def version(self, version_id: int, conn: Connection | None = None) -> Version:
        with self._lock:
            cached = self._versions.get(version_id)
        if cached is not None:
            return cached
        built = self._build(version_id)
        with self._lock:
            self._versions.setdefault(version_id, built)
            return self._versions[version_id]

    def diagram_xml(self, version_id: int, filename: str) -> str:
        """The diagram file a version runs, as deployed (for drawing it with bpmn-js)."""
        with self.store.reading() as conn:
            files = conn.execute(sa.select(process_versions.c.files)
                                 .where(process_versions.c.id == version_id)).scalar_one()
            content = conn.execute(sa.select(diagram_files.c.content)
                                   .where(diagram_files.c.hash == files[filename])).scalar_one()
        return bytes(content).decode("utf-8")

    def _build(self, version_id: int) -> Version:
        with self.store.reading() as conn:
            row = conn.execute(sa.select(process_versions)
                               .where(process_versions.c.id == version_id)).first()
            if row is None:
                raise UnknownProcess(f"version {version_id}")
            files = {}
            for name, digest in row.files.items():
                files[name] = conn.execute(sa.select(diagram_files.c.content)
                                           .where(diagram_files.c.hash == digest)).scalar_one()
        problems, found = diagrams.validate_files(files)
        if found is None:
            raise diagrams.DiagramError(problems)
        spec, subprocess_specs = found.spec(row.process_id)
        return Version(id=row.id, process_id=row.process_id, number=row.version,
                       hash=row.hash, spec=spec, subprocess_specs=subprocess_specs,
                       models=found.models)


def lock(conn: Connection) -> None:
    """Deployments queue here (two services starting together on an empty database):
    PostgreSQL's advisory lock for the transaction; SQLite's write lock already queues."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _store_file(conn: Connection, name: str, content: bytes, now: datetime) -> None:
    digest = diagrams.file_hash(content)
    exists = conn.execute(sa.select(diagram_files.c.hash)
                          .where(diagram_files.c.hash == digest)).first()
    if exists is None:
        conn.execute(diagram_files.insert().values(
            hash=digest, filename=name, content=content, deployed_at=now))


def config_files(paths: list[Path]) -> dict[str, bytes]:
    """`calendar.toml` and `directory.toml` from the folders deployed, checked: a mistake in
    them is refused at deployment, like one in a diagram."""
    found: dict[str, bytes] = {}
    for path in paths:
        if not path.is_dir():
            continue
        for name in CONFIG_FILES:
            if (path / name).is_file():
                found[name] = (path / name).read_bytes()
    problems = []
    for name, content in found.items():
        try:
            _parse_config(name, content, str(next(p for p in paths if (p / name).is_file()) / name))
        except (CalendarConfigError, DirectoryError, UnicodeDecodeError, ValueError) as err:
            problems.append(diagrams.Problem(name, None, None, str(err), f"fix {name}"))
    if problems:
        raise diagrams.DiagramError(problems)
    return found


def _parse_config(name: str, content: bytes, source: str) -> Any:
    text = content.decode("utf-8")
    if name == CALENDAR_FILE:
        return parse_calendar_config(text, source)
    return parse_directory(text, source)
