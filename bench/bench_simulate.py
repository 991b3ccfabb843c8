"""A year of a busy front door through `mash simulate`: 20,000 contacts and 200
disagreements, generated with the synthetic generator, run through the real diagrams.

    .venv/bin/python bench/bench_simulate.py [--contacts 20000] [--profile]

Prints the wall time, the CPU time, the peak memory (resident set; the parent's and the
shards' added up, a bound on the total) and the SHA-256 of the report as sorted JSON: a change
that must not change behaviour leaves it the same for the same --contacts, --days, --seed
and --processes. With --profile, where the time goes (cProfile, top functions by cumulative
and own time). Targets: under 60 s, under 1 GiB.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
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
    if profiler:
        profiler.enable()
    report = simulate(scenario, PROCESSES)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + children.ru_utime + children.ru_stime
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    shards = children.ru_maxrss / 1024  # the largest shard's
    total = own + shards * (shard_count(scenario) if shard_count(scenario) > 1 else 0)
    summary = report["summary"]
    print(f"simulated in {wall:.1f} s (target under 60 s), {cpu:.1f} s of CPU; peak memory "
          f"at most {total:.0f} MiB in total (target under 1024 MiB; the parent {own:.0f} MiB, "
          f"the largest shard {shards:.0f} MiB)")
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
