"""Instances per second through a 20-element diagram, start to end, with 5 user tasks
completed programmatically: the engine with durable state (SQLite file) against bare
SpiffWorkflow doing the same in memory, measured in the same run.

    .venv/bin/python bench/bench_engine.py [--instances N] [--database URL] [--clients K]

Prints both rates and their ratio (target: the engine at least 40% of bare SpiffWorkflow).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag  # noqa: E402
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser  # noqa: E402
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask  # noqa: E402
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine import registry  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.collector import settle, unsettle  # noqa: E402
from engine.service import Engine  # noqa: E402
from engine.store import Store  # noqa: E402

DIAGRAM = HERE / "diagrams" / "twenty.bpmn"
ANSWERS = {f"answer_{i}": True for i in range(1, 6)}


@registry.handler("bench_step")
def bench_step(task: registry.HandlerContext) -> None:
    task.data["steps"] = task.data.get("steps", 0) + 1


class BareServiceTask(ServiceTask):  # type: ignore[misc]
    """The same work as the `bench_step` handler, run in place, as a bare SpiffWorkflow
    application would."""

    def _execute(self, task):  # type: ignore[no-untyped-def]
        task.data["steps"] = task.data.get("steps", 0) + 1
        return True


class BareParser(CamundaParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {**CamundaParser.OVERRIDE_PARSER_CLASSES,
                               full_tag("serviceTask"): (TaskParser, BareServiceTask)}


def bare_spiff(n: int) -> float:
    parser = BareParser()
    parser.add_bpmn_file(str(DIAGRAM))
    spec, subprocesses = parser.get_spec("twenty"), parser.get_subprocess_specs("twenty")
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subprocesses)
        workflow.do_engine_steps()
        while not workflow.completed:
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            field = f"answer_{task.task_spec.bpmn_id.split('_')[1]}"
            task.data[field] = True
            task.run()
            workflow.do_engine_steps()
    return n / (time.perf_counter() - started)


def durable_engine(n: int, url: str | None, synchronous: str | None = None,
                   clients: int = 1) -> float:
    folder = Path(tempfile.mkdtemp(prefix="mash-bench-"))
    settled = None
    try:
        processes = folder / "processes"
        processes.mkdir()
        shutil.copy(DIAGRAM, processes / DIAGRAM.name)
        store = Store(url or f"sqlite:///{folder / 'bench.sqlite'}", synchronous=synchronous)
        store.create()
        engine = Engine(store, VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)), processes)
        engine.deploy()
        settled = settle()  # as `mash serve` does once deployed (bare keeps Python's)

        def client(count: int) -> None:
            for _ in range(count):
                _, advance = engine.start("twenty", {"case": "bench"})
                open_tasks = advance.open_tasks
                while open_tasks:
                    task = open_tasks[0]
                    field = next(f["id"] for f in task.form if f["id"].startswith("answer_"))
                    open_tasks = engine.complete(task.id, {field: True}, "bench").open_tasks

        shares = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
        started = time.perf_counter()
        if clients == 1:
            client(n)
        else:  # each client a thread with its own instances, as HTTP requests would come
            with ThreadPoolExecutor(clients) as pool:
                for done in [pool.submit(client, share) for share in shares]:
                    done.result()
        rate = n / (time.perf_counter() - started)
        store.dispose()
        return rate
    finally:
        if settled is not None:
            unsettle(settled)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients driving the "
                        "engine, each with its own instances (threads in this process)")
    args = parser.parse_args()
    # SQLite's two settings for a durable service: FULL (the default: each commit on disk
    # before it is answered) and NORMAL (a crash of the service loses nothing; a power cut
    # may lose the last commits). A --database URL is measured as it is.
    modes = [None] if args.database else ["FULL", "NORMAL"]
    rates: dict[str | None, list[float]] = {m: [] for m in modes}
    bare = []
    for _ in range(args.rounds):  # interleaved, so machine noise hits every variant alike
        bare.append(bare_spiff(args.instances))
        for mode in modes:
            rates[mode].append(durable_engine(args.instances, args.database, mode,
                                              args.clients))
    b = statistics.median(bare)
    print(f"bare SpiffWorkflow in memory     : {b:8.1f} instances/s (median of {args.rounds})")
    for mode, values in rates.items():
        d = statistics.median(values)
        label = f"SQLite synchronous={mode}" if mode else args.database
        print(f"mash engine, {label:20s}: {d:8.1f} instances/s, {d / b:6.1%} of bare "
              f"with {args.clients} client{'s' if args.clients > 1 else ''} "
              f"(target at least 40%; with 16 clients and FULL, 50%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
