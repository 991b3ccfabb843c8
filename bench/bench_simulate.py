"""A year of a busy front door through `mash simulate`: 20,000 contacts and 200
disagreements, generated with the synthetic generator, run through the real diagrams.

    .venv/bin/python bench/bench_simulate.py [--contacts 20000] [--profile]

Prints the wall time, the CPU time, the peak memory (resident set; the parent's and the
shards' added up, a bound on the total) and the SHA-256 of the report as sorted JSON: a change
that must not change behaviour leaves it the same for the same --contacts, --days, --seed
and --processes. The peak memory is measured too as the processes hold it at once: the
proportional set size (PSS: a page shared by forked processes counted once) of this process
and its shards added up, sampled every 0.2 s. With --profile, where the time goes (cProfile,
top functions by cumulative and own time). Targets (issue 20): within 2x the in-memory floor
(bench_floor.py) on the same cores, under 1 GiB in total.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import resource
import sys
import threading
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from engine.simulation.generate import generate  # noqa: E402
from engine.simulation.parallel import report as simulate  # noqa: E402
from engine.simulation.parallel import shard_count  # noqa: E402
from engine.simulation.scenario import build as scenario_from  # noqa: E402

PROCESSES = HERE.parent / "processes"


def _pss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # gone, or not Linux
        pass
    return 0.0


def _family(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                for child in children.read().split():
                    found += _family(int(child))
    except OSError:
        pass
    return found


class PeakMemory(threading.Thread):
    """The largest total PSS of this process and its descendants seen while it runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, sum(_pss_mib(p) for p in _family(os.getpid())))

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--processes", type=int, help="shards (default: one per usable core)")
    args = parser.parse_args()
    started = time.perf_counter()
    document = generate(args.contacts, args.seed, date(2026, 1, 5), args.days)
    scenario = scenario_from(document, "generated")
    generated = time.perf_counter() - started
    print(f"generated {len(scenario.contacts)} contacts and {len(scenario.disagreements)} "
          f"disagreements in {generated:.1f} s")
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    import engine.simulation.parallel as parallel

    if profiler or args.processes == 1:  # a profile runs in one process: it sees all the work
        parallel.SHARD_FROM = 10**9
    elif args.processes:
        parallel.usable_cores = lambda: args.processes  # type: ignore[assignment]
    print(f"running on {shard_count(scenario)} process(es)")
    cpu = time.process_time()
    sampler = PeakMemory()
    sampler.start()
    if profiler:
        profiler.enable()
    report = simulate(scenario, PROCESSES)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + children.ru_utime + children.ru_stime
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    shards = children.ru_maxrss / 1024  # the largest shard's
    total = own + shards * (shard_count(scenario) if shard_count(scenario) > 1 else 0)
    summary = report["summary"]
    print(f"simulated in {wall:.1f} s, {cpu:.1f} s of CPU; peak memory {peak:.0f} MiB in total "
          f"(PSS sampled; target under 1024 MiB), at most {total:.0f} MiB counting each "
          f"process's own peak in full (the parent {own:.0f} MiB, the largest shard "
          f"{shards:.0f} MiB)")
    digest = hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()
    print(f"report sha256 {digest}")
    print(f"outcomes: {summary['outcomes']}")
    print(f"deadlines: {summary['deadlines']}")
    if profiler:
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(25)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
