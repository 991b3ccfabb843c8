"""Timer kinds on the virtual clock: an elapsed ISO duration, a working-time duration, a
fixed date, each firing at its own instant; an outcome written as ${expression}."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.engine.conftest import DIAGRAMS
from tests.pathways.harness import Hub, instant


def test_durations_working_time_and_dates_fire_at_their_instants(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    shutil.copy(DIAGRAMS / "timers.bpmn", folder)
    # Fri 27 Nov 2026 14:00 GMT
    hub = Hub(database_url, start="2026-11-27T14:00:00+00:00", processes=folder)
    instance = hub.start("timers", {"laps": []})
    assert hub.engine.next_due() == instant("2026-11-27T16:00:00Z")  # PT2H: elapsed time
    hub.advance(to="2026-12-01T00:00:00Z")
    view = hub.view(instance)
    due = {d["name"]: (d["started_at"], d["due"], d["breached_at"]) for d in view["deadlines"]}
    assert due["elapsed"] == (instant("2026-11-27T14:00:00Z"), instant("2026-11-27T16:00:00Z"),
                              instant("2026-11-27T16:00:00Z"))
    # working_hours(4) from Fri 16:00: 45 minutes on Friday, 3h15 on Monday -> 11:45
    assert due["working"] == (instant("2026-11-27T16:00:00Z"), instant("2026-11-30T11:45:00Z"),
                              instant("2026-11-30T11:45:00Z"))
    # the fixed date had passed when the timer was reached: it fires at once, at 11:45
    assert view["state"] == "completed" and view["outcome"] == "timed 1"
    lap = next(h for h in view["history"] if h["element_id"] == "t_lap")
    assert lap["at"] == instant("2026-11-30T11:45:00Z")
    assert lap["changes"] == {"laps": ["2026-11-30T11:45:00Z"]}
    hub.close()
