"""Running a scenario on every core: contacts are independent cases, so a long scenario is
split into shards, each run by the real engine on its own temporary database in a process
of its own, and the reports put back together in the scenario's order.

What couples cases stays within a shard: a disagreement runs in the shard of the contact it
is about, contacts about the same child (by case record id, or name and date of birth) run in
one shard so a repeat contact finds the one before it (issue 17; a near match across shards
is not seen), and each shard holds its own daily PPN meetings (a meeting rates the PPNs
waiting then; splitting who else waits changes no PPN's rating or timing). Case records go
to all.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .report import assemble, collect, merge_heat
from .runner import Simulation
from .scenario import Disagreement, Scenario, ScenarioError

SHARD_FROM = 400  # fewer contacts than this are not worth the start-up of more processes
PER_SHARD = 200  # nor are shards of fewer contacts than this

_progress: Any = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or `taskset`'s
    share, not the machine's count), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def shard_count(scenario: Scenario) -> int:
    """One process per usable core, each with at least PER_SHARD contacts."""
    if len(scenario.contacts) < SHARD_FROM:
        return 1
    return max(1, min(usable_cores(), len(scenario.contacts) // PER_SHARD))


def _same_child(scenario: Scenario) -> list[int]:
    """For each contact, the first contact about any of the same children (itself if none)."""
    from handlers.matching import name_key

    first: dict[tuple[Any, ...], int] = {}
    group = list(range(len(scenario.contacts)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, contact in enumerate(scenario.contacts):
        for child in contact.contact.get("children") or [contact.contact.get("child") or {}]:
            keys: list[tuple[Any, ...]] = [("id", child["id"])] if child.get("id") else []
            if child.get("name") and child.get("dob"):
                keys.append(("who", name_key(child["name"]), child["dob"]))
            for key in keys:
                other = first.setdefault(key, i)
                a, b = root(i), root(other)
                group[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(group))]


def split(scenario: Scenario, shards: int) -> list[Scenario]:
    parts = [Scenario(scenario.start, list(scenario.case_records)) for _ in range(shards)]
    home: dict[str, int] = {}
    for i, (contact, first) in enumerate(zip(scenario.contacts, _same_child(scenario),
                                             strict=True)):
        home[contact.id] = home[scenario.contacts[first].id] if first != i else i % shards
        parts[home[contact.id]].contacts.append(contact)
    for i, disagreement in enumerate(scenario.disagreements):
        part = home.get(disagreement.about, i % shards) if disagreement.about else i % shards
        parts[part].disagreements.append(disagreement)
    return parts


def _init(counter: Any) -> None:
    global _progress
    _progress = counter


def _run_shard(part: Scenario, processes: str) -> tuple[Any, ...]:
    last = [0]

    def tell(done: int, _total: int) -> None:
        if _progress is not None and done != last[0]:
            with _progress.get_lock():
                _progress.value += done - last[0]
            last[0] = done

    simulation = Simulation(part, Path(processes), progress=tell)
    try:
        return collect(simulation.run())
    finally:
        simulation.close()


def report(scenario: Scenario, processes: Path, database_url: str | None = None,
           progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The report of a scenario, using every core when it is long and the database is the
    simulation's own (a `database_url` given keeps everything in that one database)."""
    shards = 1 if database_url is not None else shard_count(scenario)
    total = len(scenario.contacts) + len(scenario.disagreements)
    if shards == 1:
        simulation = Simulation(scenario, processes, database_url, progress)
        try:
            contacts, disagreements, minutes, heat = collect(simulation.run())
        finally:
            simulation.close()
        return assemble(contacts, disagreements, minutes, heat)
    context = multiprocessing.get_context("fork")
    counter = context.Value("i", 0)
    parts = split(scenario, shards)
    with ProcessPoolExecutor(shards, mp_context=context, initializer=_init,
                             initargs=(counter,)) as pool:
        futures = [pool.submit(_run_shard, part, str(processes)) for part in parts]
        while not all(f.done() for f in futures):
            if progress is not None:
                progress(counter.value, total)
            time.sleep(0.2)
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except ScenarioError:
                raise
    order_c = {c.id: i for i, c in enumerate(scenario.contacts)}
    order_d = {d.id: i for i, d in enumerate(scenario.disagreements)}
    contacts = sorted((c for r in results for c in r[0]), key=lambda c: order_c[c["id"]])
    disagreements = sorted((d for r in results for d in r[1]), key=lambda d: order_d[d["id"]])
    all_minutes: dict[str, list[float]] = {}
    for _, _, part_minutes, _ in results:
        for role, values in part_minutes.items():
            all_minutes.setdefault(role, []).extend(values)
    if progress is not None:
        progress(total, total)
    return assemble(contacts, disagreements, all_minutes,
                    merge_heat([r[3] for r in results]))


__all__ = ["Disagreement", "report", "split"]
