"""Deployments and versions: what is in `processes/` becomes a numbered version per process.

A process's version is the hash of the files it needs (its own diagram and those it calls).
Deploying a changed diagram adds a version; unchanged ones are left alone. Instances keep the
version they started on; new instances take the newest. Stored diagrams are parsed once per
process and kept in memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import diagrams
from .runtime import Version
from .store import Store, diagram_files, instances, process_versions


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
        results: list[Deployed] = []
        with self.store.transaction() as conn:
            for name, content in found.files.items():
                digest = diagrams.file_hash(content)
                exists = conn.execute(sa.select(diagram_files.c.hash)
                                      .where(diagram_files.c.hash == digest)).first()
                if exists is None:
                    conn.execute(diagram_files.insert().values(
                        hash=digest, filename=name, content=content, deployed_at=now))
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
        with self._lock:
            self._latest.clear()
        return results

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
