"""Scheduler lateness: with 10,000 instances waiting on timers, how late does each fire?

    .venv/bin/python bench/bench_scheduler.py [--timers 10000] [--window 60] [--database URL]

Starts the instances (each waits until its own `due_at`, spread over --window seconds after
they are all created), then runs the service's scheduler (engine.scheduler.Wakeup) on the
system clock and measures, for every timer, when it fired against when it was due.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sqlalchemy as sa  # noqa: E402

from engine.clock import SystemClock, iso_z  # noqa: E402
from engine.scheduler import Wakeup  # noqa: E402
from engine.service import Engine  # noqa: E402
from engine.store import Store, deadlines, instances  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=120.0,
                        help="seconds the due instants spread over (default 120: 83 timers a "
                             "second, far more than a front door's year of about one a minute)")
    parser.add_argument("--timeline", action="store_true", help="print lateness over time")
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mash-bench-scheduler-"))
    try:
        processes = folder / "processes"
        processes.mkdir()
        shutil.copy(HERE / "diagrams" / "timer.bpmn", processes)
        store = Store(args.database or f"sqlite:///{folder / 'bench.sqlite'}")
        store.create()
        engine = Engine(store, SystemClock(), processes)
        engine.deploy()
        # Estimate creation time first, so every due instant lies after all are created.
        started = time.perf_counter()
        first = datetime.now(UTC) + timedelta(days=1)
        engine.start("wait_for_timer", {"due_at": iso_z(first)})
        per = time.perf_counter() - started
        lead = per * args.timers * 1.5 + 10
        begin = datetime.now(UTC) + timedelta(seconds=lead)
        step = args.window / max(args.timers - 1, 1)
        print(f"creating {args.timers} waiting instances (about {per * args.timers:.0f} s); "
              f"timers fall due from {begin:%H:%M:%S} over {args.window:.0f} s")
        created = time.perf_counter()
        for i in range(args.timers - 1):
            engine.start("wait_for_timer",
                         {"due_at": iso_z(begin + timedelta(seconds=i * step))})
        print(f"created in {time.perf_counter() - created:.1f} s; "
              f"{(begin - datetime.now(UTC)).total_seconds():.1f} s before the first is due")
        wakeup = Wakeup(engine)
        wakeup.start()
        end = begin + timedelta(seconds=args.window + 30)
        while datetime.now(UTC) < end:
            with store.reading() as conn:
                left = conn.execute(sa.select(sa.func.count()).select_from(instances)
                                    .where(instances.c.state == "waiting",
                                           instances.c.next_due < first)).scalar()
            if left == 0:
                break
            time.sleep(1)
        wakeup.stop()
        with store.reading() as conn:
            rows = conn.execute(sa.select(deadlines.c.due, deadlines.c.breached_at)
                                .where(deadlines.c.due < first)).all()
        timeline = sorted((r.due, (r.breached_at - r.due).total_seconds())
                          for r in rows if r.breached_at)
        if args.timeline:
            for due, lateness in timeline[:: max(1, len(timeline) // 40)]:
                print(f"  due {due:%H:%M:%S.%f} late {lateness * 1000:.0f} ms")
        late = sorted(lateness for _, lateness in timeline)
        missing = len(rows) - len(late)
        print(f"fired {len(late)} of {len(rows)} timers ({missing} not fired)")
        if late:
            p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
            print(f"lateness: median {statistics.median(late) * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms (target: under 1 s)")
        store.dispose()
        return 0 if late and late[-1] < 1.0 and not missing else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
