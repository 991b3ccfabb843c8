"""engine/collector.py: the garbage collector set for a process that is the engine."""

from __future__ import annotations

import gc

from engine.collector import YOUNG_THRESHOLD, settle, unsettle


def test_settle_freezes_what_is_alive_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    alive = [{"task": i} for i in range(1000)]
    settled = settle()
    try:
        assert settled == before
        assert gc.get_freeze_count() >= len(alive)  # out of every collection's sight
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_count()[0] < YOUNG_THRESHOLD
    finally:
        unsettle(settled)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_importing_the_engine_leaves_pythons_collector_as_it_was() -> None:
    import subprocess
    import sys

    found = subprocess.run(
        [sys.executable, "-c", "import gc, engine.service, engine.serve, engine.simulation.parallel;"
         " print(gc.get_threshold()[0], gc.get_freeze_count())"],
        capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["700", "0"]
