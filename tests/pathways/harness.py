"""Driving the real diagrams through the real engine on a virtual clock, as a test reads.

    hub = Hub(database_url, start="2026-11-23T09:00:00+00:00")
    contact = hub.contact(concerns="...", child={"postcode": "BH1 1AA"})
    hub.complete(contact, "verify", accepted=True)
    hub.advance(to="2026-11-23T14:00:00+00:00")
    view = hub.view(contact)   # state, outcome, deadlines, notifications, path, flows

Every instant given or shown is UTC; `local("2026-11-23 10:00")` reads a Europe/London time.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine import queries
from engine.clock import VirtualClock, as_utc
from engine.service import Engine
from engine.store import Store, case_notes
from handlers.case_records import seed_children

REPOSITORY = Path(__file__).resolve().parents[2]
PROCESSES = REPOSITORY / "processes"
LONDON = ZoneInfo("Europe/London")

# A contact that takes the main road: a professional, a BCP postcode, nothing special.
CONTACT: dict[str, Any] = {
    "channel": "email",
    "referrer": {"name": "Sam Teacher", "kind": "professional", "agency": "Oakdale School",
                 "email": "s.teacher@oakdale.invalid", "phone": "01202 000000"},
    "child": {"name": "Alex Example", "dob": "2015-04-01", "postcode": "BH1 1AA",
              "address": "1 Example Road, Bournemouth"},
    "concerns": "Bruising noticed on arrival at school; the child seemed withdrawn.",
    "immediate_risk": False, "missing": False, "information_request": False,
    "crime_suspected": False, "consent": "given",
}


MODELER_SAVE = REPOSITORY / "tools" / "bpmn-modeler-save"


def modeller_saved(names: tuple[str, ...], into: Path) -> tuple[Path, Path]:
    """Two processes folders under `into`: the diagrams as they are, and as the bpmn-js
    Modeler with the Camunda extension saves them (what a process owner's File > Save does;
    the repository's tool, which .ci/run gives node and Chromium)."""
    import shutil
    import subprocess

    original, saved = into / "original", into / "saved"
    for folder in (original, saved):
        folder.mkdir()
        for name in ("calendar.toml", "directory.toml"):
            shutil.copy(PROCESSES / name, folder / name)
    for name in names:
        shutil.copy(PROCESSES / name, original / name)
        result = subprocess.run([str(MODELER_SAVE), str(PROCESSES / name), "-o", str(saved / name)],
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    return original, saved


def local(text: str) -> datetime:
    """A Europe/London wall-clock time ("2026-11-23 10:00") as an aware instant."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def instant(value: str | datetime) -> datetime:
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


class Hub:
    def __init__(self, database_url: str, start: str | datetime = "2026-11-23T09:00:00+00:00",
                 processes: Path = PROCESSES, case_records: list[dict[str, Any]] | None = None):
        self.clock = VirtualClock(instant(start))
        self.store = Store(database_url)
        self.store.create()
        self.engine = Engine(self.store, self.clock, processes)
        self.engine.deploy()
        if case_records:
            with self.store.transaction() as conn:
                seed_children(conn, case_records)

    # -- starting ---------------------------------------------------------------------------

    def contact(self, received_at: str | datetime | None = None, **changes: Any) -> str:
        """A contact to first response; keyword arguments change the default contact."""
        data = merged(CONTACT, changes)
        if received_at is not None:
            data["received_at"] = instant(received_at).isoformat()
        instance_id, _ = self.engine.start("first_response", data, "tester")
        return instance_id

    def start(self, process: str, data: dict[str, Any], **kwargs: Any) -> str:
        instance_id, _ = self.engine.start(process, data, "tester", **kwargs)
        return instance_id

    # -- people -----------------------------------------------------------------------------

    def tasks(self, instance_id: str | None = None, role: str | None = None) -> list[dict[str, Any]]:
        with self.store.reading() as conn:
            found = queries.open_tasks(conn, {role} if role else None)
        return [t for t in found if instance_id is None or t["instance_id"] == instance_id]

    def task(self, instance_id: str, element_id: str) -> dict[str, Any]:
        matching = [t for t in self.tasks(instance_id) if t["element_id"] == element_id]
        if len(matching) != 1:
            open_now = [t["element_id"] for t in self.tasks(instance_id)]
            raise AssertionError(f"expected one open {element_id!r}; open tasks: {open_now}")
        return matching[0]

    def complete(self, instance_id: str, element_id: str, by: str = "tester",
                 roles: set[str] | None = None, **values: Any) -> Any:
        task = self.task(instance_id, element_id)
        return self.engine.complete(task["id"], values, by, roles)

    # -- time -------------------------------------------------------------------------------

    def advance(self, to: str | datetime | None = None, by: timedelta | None = None,
                through: str | datetime | None = None) -> None:
        """Move the virtual clock, firing each timer at its own instant on the way. What falls
        due exactly at `to` waits (work done then still meets it); `through=T`: to T, and
        what falls due at T fires too (nothing more is done at T first)."""
        if through is not None:
            self.engine.run_until(instant(through), through=True)
            return
        target = instant(to) if to is not None else self.clock.now() + (by or timedelta(0))
        self.engine.run_until(target)

    def now(self) -> datetime:
        return self.clock.now()

    # -- looking ----------------------------------------------------------------------------

    def view(self, instance_id: str) -> dict[str, Any]:
        with self.store.reading() as conn:
            return queries.instance_view(conn, instance_id)

    def deadline(self, instance_id: str, name: str) -> dict[str, Any]:
        found = [d for d in self.view(instance_id)["deadlines"] if d["name"] == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {name!r} deadline, found {len(found)}")
        return found[0]

    def notifications(self, instance_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [n for n in self.view(instance_id)["notifications"]
                if kind is None or n["kind"] == kind]

    def case_notes(self, instance_id: str) -> list[dict[str, Any]]:
        with self.store.reading() as conn:
            rows = conn.execute(sa.select(case_notes).where(case_notes.c.instance_id == instance_id)
                                .order_by(case_notes.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def instances(self, process: str | None = None) -> list[dict[str, Any]]:
        from engine.store import instances
        with self.store.reading() as conn:
            query = sa.select(instances.c.id, instances.c.process_id, instances.c.state)
            if process:
                query = query.where(instances.c.process_id == process)
            return [dict(r._mapping) for r in conn.execute(query)]

    def close(self) -> None:
        self.store.dispose()
