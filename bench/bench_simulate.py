"""A year of a busy front door through `mash simulate`: 20,000 contacts and 200
disagreements, generated with the synthetic generator, run through the real diagrams.

    .venv/bin/python bench/bench_simulate.py [--contacts 20000] [--profile]

Prints the wall time, the peak memory (resident set) and, with --profile, where the time
goes (cProfile, top functions by cumulative and own time). Targets: under 60 s, under 1 GiB.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sys
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    document = generate(args.contacts, args.seed, date(2026, 1, 5), args.days)
    scenario = scenario_from(document, "generated")
    generated = time.perf_counter() - started
    print(f"generated {len(scenario.contacts)} contacts and {len(scenario.disagreements)} "
          f"disagreements in {generated:.1f} s")
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler:  # a profile runs in one process, so it sees all the work
        import engine.simulation.parallel as parallel

        parallel.SHARD_FROM = 10**9
        profiler.enable()
    print(f"running on {1 if profiler else shard_count(scenario)} process(es)")
    report = simulate(scenario, PROCESSES)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    shards = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak = max(own, shards)
    summary = report["summary"]
    print(f"simulated in {wall:.1f} s (target under 60 s); peak memory {peak:.0f} MiB per "
          f"process (target under 1024 MiB; the parent {own:.0f} MiB, the largest shard "
          f"{shards:.0f} MiB)")
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
