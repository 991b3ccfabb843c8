"""Python's cyclic garbage collector, set for a process that runs the engine for a long time.

A command allocates many short-lived objects (task trees being run, rows, dicts of data),
and CPython starts a collection every 700 allocations more than frees: 16 % of the
engine's CPU went to collections (bench/bench_floor.py), walking the same long-lived
objects again and again (the parsed diagrams and SQLAlchemy's tables, which live as long
as the process). Settled, 4 %, and 10-20 % less CPU per contact in all. `settle`
moves everything alive once the process is set up out of the collector's sight
(`gc.freeze`) and collects the young generation less often (most of a command's garbage is
freed by reference counting before a collection would look at it; what is cyclic, a
dropped task tree, waits longer: in a simulation's worker 70 MiB more over 2,000 contacts,
175 MiB over 10,000).

It is called where a process that is the engine starts, once the diagrams are deployed
(`mash serve`, the benchmarks' engine), never on import: a program that imports the engine
for something else keeps Python's settings. A simulation's workers keep Python's settings
too: there it saved no CPU and a year's shard grew from 656 to 830 MiB.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between collections of the youngest generation


def settle() -> tuple[int, ...]:
    """Freeze what is alive now and collect less often; returns the thresholds before, for
    `unsettle` (the benchmarks put Python's defaults back for the in-memory floor)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, before[1], before[2])
    return before


def unsettle(before: tuple[int, ...]) -> None:
    gc.unfreeze()
    gc.set_threshold(*before)
