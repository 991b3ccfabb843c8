"""CPU per contact: the engine against its floor, bare SpiffWorkflow doing the same work in
memory, measured in the same run.

    .venv/bin/python bench/bench_floor.py [--contacts 500] [--days 9] [--rounds 3]
                                         [--database URL]

1. Record: a generated scenario runs through `mash simulate`'s engine once, and every
   command on an instance is written down as it reaches the workflow: a start with its
   data, a person's answers to a task, timers fired at an instant, a message delivered.
2. The floor: the commands replayed on the project's own `MashWorkflow` in memory, with
   the same deployed diagrams, script engine, calendar and the real handlers. What the
   handlers read and write beside the workflow (case records, a contact's children and
   links, the state of other contacts that matching reads) is in an in-memory SQLite
   database, written straight (no savepoints); notifications and messages go to lists; the
   PPN meeting's list of waiting contacts is read from the workflows in memory.
3. The engine: the same commands through `Engine` on a fresh database (SQLite
   synchronous=FULL, the default, unless --database), as a service would run them.

Both replays must end every instance having completed the same elements; then the CPU
each spent per contact and their ratio are printed (median of the rounds, interleaved so
machine noise hits both alike). The floor is printed twice: as SpiffWorkflow runs in the
engine's process (its log building skipped while its logger is off), and as installed.
Target: the engine within 2x of the floor.

    .venv/bin/python bench/bench_floor.py --report-hash --contacts 500 --seed 7 --days 10 \
        [--expect SHA256]

prints the hash of the simulation report of a generated scenario (lists of records sorted:
see `canonical`): run it on the code before a change and after, they must be equal.
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sqlalchemy as sa  # noqa: E402
from SpiffWorkflow.bpmn import BpmnEvent  # noqa: E402
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # noqa: E402
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask  # noqa: E402
from SpiffWorkflow.camunda.specs.event_definitions import (  # noqa: E402
    MessageEventDefinition as CamundaMessage,
)
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine import registry, runtime  # noqa: E402
from engine.bpmn.script_engine import MashScriptEngine, diagram_functions  # noqa: E402
from engine.bpmn.specs import instant  # noqa: E402
from engine.bpmn.workflow import MashWorkflow  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.collector import settle, unsettle  # noqa: E402
from engine.registry import HandlerContext, HandlerError, Services  # noqa: E402
from engine.runtime import all_tasks  # noqa: E402
from engine.service import Engine  # noqa: E402
from engine.simulation.generate import generate  # noqa: E402
from engine.simulation.runner import Simulation  # noqa: E402
from engine.simulation.scenario import Scenario  # noqa: E402
from engine.simulation.scenario import build as scenario_from  # noqa: E402
from engine.store import Store, instances, schedules  # noqa: E402

PROCESSES = HERE.parent / "processes"


@dataclass
class Command:
    kind: str  # start | complete | timers | deliver
    at: datetime
    instance_id: str
    process_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    element_id: str = ""
    through_now: bool = False
    nth: int = 0  # which of the element's open tasks (a multi-instance task has several)
    reference: str | None = None
    about: str | None = None


class GcTime:
    """CPU spent in the cyclic garbage collector while it is open (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._began = 0.0

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.seconds += time.process_time() - self._began
            self.collections += 1

    def __enter__(self) -> GcTime:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: Any) -> None:
        gc.callbacks.remove(self._callback)


# -- 1. recording ---------------------------------------------------------------------------


def record(scenario: Scenario) -> list[Command]:
    """Run the scenario through the engine, writing down each command that reached an
    instance's workflow (and committed)."""
    commands: list[Command] = []

    original_start = Engine._start
    originals = {name: getattr(runtime.Runner, name) for name in ("complete", "fire_timers",
                                                                    "deliver")}

    def _start(self: Engine, conn: Any, process_id: str, data: dict[str, Any], actor: str,
               instance_id: str, reference: str | None, about: str | None) -> Any:
        found = original_start(self, conn, process_id, data, actor, instance_id, reference, about)
        commands.append(Command("start", self.clock.now(), instance_id, process_id=process_id,
                                data=copy.deepcopy(data), reference=reference, about=about))
        return found

    def complete(self: runtime.Runner, task_id: str, values: dict[str, Any]) -> Any:
        task = runtime._task(self.workflow, task_id)
        element = task.task_spec.bpmn_id if task is not None else ""
        nth = [t.id for t in _open(self.workflow, element)].index(task.id) if task else 0
        advance = originals["complete"](self, task_id, values)
        commands.append(Command("complete", self.now, self.live.id, element_id=element,
                                data=copy.deepcopy(values), nth=nth))
        return advance

    def fire_timers(self: runtime.Runner, through_now: bool = False) -> Any:
        advance = originals["fire_timers"](self, through_now)
        commands.append(Command("timers", self.now, self.live.id, through_now=through_now))
        return advance

    def deliver(self: runtime.Runner, name: str, payload: dict[str, Any]) -> Any:
        advance = originals["deliver"](self, name, payload)
        commands.append(Command("deliver", self.now, self.live.id, element_id=name,
                                data=copy.deepcopy(payload)))
        return advance

    Engine._start = _start
    for name, patched in (("complete", complete), ("fire_timers", fire_timers),
                          ("deliver", deliver)):
        setattr(runtime.Runner, name, patched)
    simulation = Simulation(scenario, PROCESSES)
    try:
        simulation.run()
    finally:
        simulation.close()
        Engine._start = original_start
        for name, method in originals.items():
            setattr(runtime.Runner, name, method)
    return commands


# -- 2. the floor: bare MashWorkflow in memory ----------------------------------------------


class MemoryDatabase:
    """What the handlers read and write beside the workflow (case records, the contact's
    children and links, and each instance's state as the matching reads it), in an in-memory
    SQLite database with no journal: what a bare application would keep in memory."""

    def __init__(self, case_records: list[dict[str, Any]]) -> None:
        from sqlalchemy.pool import StaticPool

        from engine.store import metadata
        from handlers.case_records import seed_children

        self.engine = sa.create_engine("sqlite://", poolclass=StaticPool)
        metadata.create_all(self.engine)
        self.conn = self.engine.connect()  # one transaction, never committed
        seed_children(self.conn, case_records)

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        """StepWrites' interface, without its savepoints: nothing here is rolled back."""
        return self.conn.execute(statement, parameters)

    def finish(self, ok: bool) -> None:
        pass

    def started(self, instance_id: str, process_id: str, version_id: int, at: datetime) -> None:
        self.conn.execute(instances.insert().values(
            id=instance_id, process_id=process_id, version_id=version_id, state="running",
            workflow=b"", started_at=at, row_version=0))

    def moved(self, instance_id: str, state: str, rag: Any, outcome: str | None,
              ended_at: datetime | None) -> None:
        self.conn.execute(instances.update().where(instances.c.id == instance_id).values(
            state=state, rag=rag, outcome=outcome, ended_at=ended_at))

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


class ListNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, kind: str, to: str, subject: str, body: str, instance_id: str | None) -> str:
        self.sent.append((kind, to, subject, body, instance_id))
        return str(len(self.sent))


class ListMessages:
    queued = 0

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, instance_id: str, name: str, payload: dict[str, Any]) -> None:
        self.sent.append((instance_id, name, payload))


class Bare:
    """The recorded commands on MashWorkflow in memory: what a bare SpiffWorkflow application
    would do, with nothing stored and nothing reported."""

    def __init__(self, engine: Engine, case_records: list[dict[str, Any]]) -> None:
        self.deployments = engine.deployments
        self.clock = VirtualClock(engine.clock.now())
        self.calendar = engine.calendar
        self.functions = diagram_functions(self.clock, self.calendar)
        from handlers.case_records import SqlCaseRecords

        self.database = MemoryDatabase(case_records)
        writes: Any = self.database
        self.services = Services(
            clock=self.clock, calendar=self.calendar, connection=self.database.conn,
            writes=writes, notifier=ListNotifier(),
            case_records=SqlCaseRecords(self.database.conn, writes, self.clock),
            directory=engine.directory, messages=ListMessages())
        self.instances: dict[str, tuple[Any, MashScriptEngine, Any]] = {}
        self.started: list[str] = []
        self.summary: dict[str, dict[str, Any]] = {}
        self.process_of: dict[str, str] = {}

    def run(self, commands: list[Command]) -> None:
        for command in commands:
            if command.at > self.clock.now():
                self.clock.set(command.at)
            getattr(self, "_" + command.kind)(command)
            self._moved(command.instance_id)

    def _moved(self, instance_id: str) -> None:
        """The instance's state as the handlers' queries read it (matching, repeats)."""
        workflow, engine, version = self.instances[instance_id]
        last = workflow.last_task
        rag = last.data.get("rag") if last is not None else None
        summary = self.summary[instance_id]
        if rag is not None:
            summary["rag"] = rag
        outcome = None
        if workflow.completed:
            for task in all_tasks(workflow):
                element = version.element(task)
                if (task.state == TaskState.COMPLETED and element is not None
                        and element.tag == "endEvent" and "outcome" in element.properties):
                    value = element.properties["outcome"].strip()
                    outcome = str(engine.evaluate(task, value[2:-1])) \
                        if value.startswith("${") else value
        self.database.moved(instance_id, "completed" if workflow.completed else "running",
                            summary.get("rag"), outcome,
                            self.clock.now() if workflow.completed else None)

    def _engine(self, instance_id: str, version: Any) -> MashScriptEngine:
        def run_handler(task: Any, topic: str | None) -> None:
            if topic == "gather_ppns":
                self._gather_ppns(task, instance_id, version)
                return
            handler = registry.lookup(topic or "")
            if handler is None:
                raise HandlerError(f"no handler for {topic!r}")
            element = version.element(task)
            context = HandlerContext(
                instance_id=instance_id, process_id=version.process_id,
                element_id=task.task_spec.bpmn_id, element_name=element.name or element.id,
                properties=element.properties, data=task.data, services=self.services)
            result = handler(context)
            if result:
                task.data.update(result)

        return MashScriptEngine(self.clock, self.calendar, run_handler, self.functions)

    def _gather_ppns(self, task: Any, instance_id: str, version: Any) -> None:
        """handlers/ppn.py's query, on the workflows in memory."""
        element = version.element(task)
        message = element.properties.get("message", "ppn_rated")
        listed = {ppn for other in self.started if other != instance_id
                  and self.process_of[other] == version.process_id
                  and not self.instances[other][0].completed
                  for ppn in self.summary[other].get("refers_to", [])}
        waiting = [i for i in self.started if i not in listed and _waits_for(
            self.instances[i][0], message)]
        task.data["refers_to"] = waiting
        task.data["ppns"] = [{
            "instance_id": i, "reference": self.summary[i].get("reference") or i.split("-")[0].upper(),
            "child_name": self.summary[i].get("child_name"),
            "received_at": self.summary[i].get("received_at")} for i in waiting]
        task.data["meeting_at"] = self.clock.now().isoformat().replace("+00:00", "Z")
        self.summary[instance_id]["refers_to"] = waiting

    def _loop(self, workflow: Any) -> None:
        while True:
            while workflow._do_engine_steps():
                pass
            waiting = list(workflow.event_manager.tasks.values())
            workflow.refresh_timers()
            if not any(t.state == TaskState.READY for t in waiting):
                break

    def _overdue(self, workflow: Any) -> None:
        now = self.clock.now()
        for task in workflow.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            for d in getattr(definition, "event_definitions", [definition]):
                if isinstance(d, TimerEventDefinition):
                    pending = d.details(task)
                    if pending.value and instant(pending.value) < now:
                        self._loop(workflow)
                        return

    def _start(self, command: Command) -> None:
        version = self.deployments.latest(command.process_id)
        engine = self._engine(command.instance_id, version)
        workflow = MashWorkflow(version.spec, version.subprocess_specs, script_engine=engine)
        for task in workflow.get_tasks():
            task.data.update(copy.deepcopy(command.data))
        self.instances[command.instance_id] = (workflow, engine, version)
        self.database.started(command.instance_id, version.process_id, version.id,
                              self.clock.now())
        self.started.append(command.instance_id)
        self.process_of[command.instance_id] = command.process_id
        child = command.data.get("child") or {}
        self.summary[command.instance_id] = {
            "reference": command.reference, "child_name": child.get("name"),
            "received_at": command.data.get("received_at")}
        with engine.just_before_now():
            self._loop(workflow)

    def _complete(self, command: Command) -> None:
        workflow, engine, _ = self.instances[command.instance_id]
        with engine.just_before_now():
            self._overdue(workflow)
            task = _open(workflow, command.element_id)[command.nth]
            task.data.update(copy.deepcopy(command.data))
            task.run()
            self._loop(workflow)

    def _timers(self, command: Command) -> None:
        workflow, engine, _ = self.instances[command.instance_id]
        if command.through_now:
            self._loop(workflow)
        else:
            with engine.just_before_now():
                self._loop(workflow)

    def _deliver(self, command: Command) -> None:
        workflow, engine, _ = self.instances[command.instance_id]
        with engine.just_before_now():
            self._overdue(workflow)
            spec = workflow.spec
            outputs, ends = list(spec.start.outputs), list(spec.end.inputs)
            workflow.catch(BpmnEvent(CamundaMessage(command.element_id),
                                     payload={"payload": command.data,
                                              "result_var": command.element_id}))
            for added in [s for s in spec.start.outputs if s not in outputs]:
                # as engine/runtime.py's deliver: an event sub-process started here must not
                # stay connected to the start and end of the spec every instance shares
                spec.start.outputs = outputs
                spec.end.inputs = ends
                added.outputs = [s for s in added.outputs if s is not spec.end]
            self._loop(workflow)

    def results(self) -> dict[str, tuple[bool, list[str]]]:
        return {i: _result(w) for i, (w, _, _) in self.instances.items()}


def _open(workflow: Any, element_id: str) -> list[Any]:
    """The element's tasks waiting for a person, in the order the engine lists them."""
    return [t for t in all_tasks(workflow) if t.state == TaskState.READY
            and isinstance(t.task_spec, UserTask) and t.task_spec.bpmn_id == element_id]


def _waits_for(workflow: Any, message: str) -> bool:
    if workflow.completed:
        return False
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        for d in getattr(definition, "event_definitions", [definition]):
            if isinstance(d, CamundaMessage) and d.name == message:
                return True
    return False


def _result(workflow: Any) -> tuple[bool, list[str]]:
    done = Counter(t.task_spec.bpmn_id for t in all_tasks(workflow)
                   if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id)
    return bool(workflow.completed), sorted(f"{k}x{v}" for k, v in done.items())


# -- 3. the engine ----------------------------------------------------------------------------


@dataclass
class Replay:
    cpu: float
    results: dict[str, tuple[bool, list[str]]]
    gc: float = 0.0  # CPU seconds of it in the garbage collector
    statements: Counter[str] | None = None  # SQL statements run, by their first word


def replay_engine(commands: list[Command], scenario: Scenario, url: str | None,
                  synchronous: str | None, count: bool = False) -> Replay:
    """`count`: count the SQL statements the replay runs (SQLite: every one the library
    runs, through its trace callback; costs CPU, so not in a timed round)."""
    folder = Path(tempfile.mkdtemp(prefix="mash-floor-"))
    statements: Counter[str] = Counter()
    counting = [False]
    settled = None
    try:
        store = Store(url or f"sqlite:///{folder / 'floor.sqlite'}", synchronous=synchronous)
        if count and store.dialect == "sqlite":
            def trace(sql: str) -> None:
                if counting[0]:
                    statements[sql.split(None, 1)[0].upper()] += 1

            sa.event.listen(store.engine, "connect",
                            lambda dbapi, _record: dbapi.set_trace_callback(trace))
        store.create()
        clock = VirtualClock(scenario.start)
        engine = Engine(store, clock, PROCESSES)
        engine.deploy()
        with store.transaction() as conn:
            conn.execute(schedules.delete())  # the recorded meetings are started as they were
            if scenario.case_records:
                from handlers.case_records import seed_children

                seed_children(conn, scenario.case_records)
        open_tasks: dict[str, dict[str, list[str]]] = defaultdict(dict)

        def observe(instance_id: str, advance: Any) -> None:
            found: dict[str, list[str]] = defaultdict(list)
            for task in advance.open_tasks:
                found[task.element_id].append(task.id)
            open_tasks[instance_id] = found

        engine.observers.append(observe)
        settled = settle()  # as `mash serve` does once deployed (the floor keeps Python's)
        counting[0] = True
        gc_time = GcTime()
        started = time.process_time()
        with gc_time:
            for command in commands:
                if command.at > clock.now():
                    clock.set(command.at)
                if command.kind == "start":
                    engine.start(command.process_id, command.data, "replay",
                                 reference=command.reference, about=command.about,
                                 instance_id=command.instance_id)
                elif command.kind == "complete":
                    task_id = open_tasks[command.instance_id][command.element_id][command.nth]
                    engine.complete(task_id, command.data, "replay")
                elif command.kind == "timers":
                    engine.fire_due(through_now=command.through_now)
                # "deliver": the engine delivers a message itself once its sender commits
        cpu = time.process_time() - started
        counting[0] = False
        results = {}
        with store.reading() as conn:
            from engine import rows

            for instance_id in {c.instance_id for c in commands}:
                live = rows.load(conn, instance_id, engine.deployments)
                results[instance_id] = _result(live.workflow)
        store.dispose()
        return Replay(cpu, results, gc_time.seconds, statements if count else None)
    finally:
        if settled is not None:
            unsettle(settled)
        shutil.rmtree(folder, ignore_errors=True)


def replay_bare(commands: list[Command], scenario: Scenario, engine: Engine,
                stock_logging: bool) -> Replay:
    bare = Bare(engine, scenario.case_records)
    restore = _stock_spiff() if stock_logging else None
    try:
        gc_time = GcTime()
        started = time.process_time()
        with gc_time:
            bare.run(commands)
        cpu = time.process_time() - started
    finally:
        bare.database.close()
        if restore is not None:
            restore()
    return Replay(cpu, bare.results(), gc_time.seconds)


def _stock_spiff() -> Any:
    """SpiffWorkflow as installed, undoing what the engine changes of it (if anything)."""
    from SpiffWorkflow.task import Task

    original = getattr(Task, "_mash_stock_set_state", None)
    if original is None:
        return lambda: None
    ours = Task._set_state
    Task._set_state = original

    def restore() -> None:
        Task._set_state = ours

    return restore


def _engine_for_specs(scenario: Scenario, folder: Path) -> Engine:
    store = Store(f"sqlite:///{folder / 'specs.sqlite'}")
    store.create()
    engine = Engine(store, VirtualClock(scenario.start), PROCESSES)
    engine.deploy()
    return engine


def _profile(commands: list[Command], scenario: Scenario, url: str | None, out: str) -> int:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    replay_engine(commands, scenario, url, None)
    profiler.disable()
    profiler.dump_stats(out)
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(40)
        print(text.getvalue())
    return 0


def _gc_share(replays: list[Replay]) -> str:
    return f"{sum(r.gc for r in replays) / sum(r.cpu for r in replays):.0%}"


def canonical(value: Any) -> Any:
    """The report with its lists of records sorted: notifications written at one instant
    come out in the order of their random ids (so two runs of the same code differ there);
    lists of names (a path) keep their order."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        if items and all(isinstance(v, dict) for v in items):
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
        return items
    return value


def report_hash(contacts: int, seed: int, first: date, days: int) -> str:
    """SHA-256 of `mash simulate --json`'s report of a generated scenario, canonical."""
    from engine.simulation.parallel import report

    scenario = scenario_from(generate(contacts, seed, first, days), "generated")
    document = report(scenario, PROCESSES)
    text = json.dumps(canonical(document), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="profile one engine replay (cProfile, "
                        "CPU time) into FILE and print where its time goes")
    parser.add_argument("--database", help="SQLAlchemy URL for the engine (default: a new "
                        "SQLite file, synchronous=FULL)")
    parser.add_argument("--report-hash", action="store_true", help="instead: print the hash "
                        "of the simulation report of a generated scenario (--contacts, --seed, "
                        "--days from --from), to compare the engine before and after a change")
    parser.add_argument("--from", dest="first", type=date.fromisoformat,
                        default=date(2026, 1, 5))
    parser.add_argument("--expect", help="with --report-hash: the hash it must be (exit 1 if "
                        "not)")
    args = parser.parse_args()
    if args.report_hash:
        found = report_hash(args.contacts, args.seed, args.first, args.days)
        print(f"report of {args.contacts} contacts (seed {args.seed}, {args.days} days from "
              f"{args.first}): sha256 {found}")
        if args.expect and args.expect != found:
            print(f"differs from the expected {args.expect}")
            return 1
        return 0
    document = generate(args.contacts, args.seed, args.first, args.days)
    scenario = scenario_from(document, "generated")
    began = time.perf_counter()
    commands = record(scenario)
    kinds = Counter(c.kind for c in commands)
    print(f"recorded {len(commands)} commands ({dict(sorted(kinds.items()))}) from "
          f"{len(scenario.contacts)} contacts and {len(scenario.disagreements)} disagreements "
          f"in {time.perf_counter() - began:.0f} s")
    if args.profile:
        return _profile(commands, scenario, args.database, args.profile)
    folder = Path(tempfile.mkdtemp(prefix="mash-floor-specs-"))
    try:
        spec_engine = _engine_for_specs(scenario, folder)
        floor, stock, through = [], [], []
        for _ in range(args.rounds):
            bare = replay_bare(commands, scenario, spec_engine, stock_logging=False)
            floor.append(bare)
            stock.append(replay_bare(commands, scenario, spec_engine, stock_logging=True))
            durable = replay_engine(commands, scenario, args.database, None)
            through.append(durable)
            if durable.results != bare.results:
                differ = [i for i in bare.results if bare.results[i] != durable.results.get(i)]
                print(f"the replays differ on {len(differ)} instances, e.g. {differ[:3]}")
                for i in differ[:3]:
                    print("bare  ", bare.results[i])
                    print("engine", durable.results.get(i))
                return 1
        bare_results = bare.results
        counted = replay_engine(commands, scenario, args.database, None, count=True).statements
        spec_engine.store.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    n = len(scenario.contacts)
    f, s, e = (statistics.median(r.cpu for r in v) * 1000 / n for v in (floor, stock, through))
    where = args.database or "SQLite synchronous=FULL"
    print(f"every instance completed the same elements in both replays "
          f"({sum(1 for r in bare_results.values() if r[0])} of {len(bare_results)} completed)")
    print(f"floor, MashWorkflow in memory          : {f:7.2f} ms CPU per contact"
          f"  ({_gc_share(floor)} in GC)")
    print(f"floor, SpiffWorkflow's logging as stock: {s:7.2f} ms CPU per contact"
          f"  ({_gc_share(stock)} in GC)")
    print(f"engine ({where}){' ' * max(0, 24 - len(where))}: {e:7.2f} ms CPU per contact"
          f"  ({_gc_share(through)} in GC)")
    if counted:
        total = sum(counted.values())
        print(f"engine SQL statements: {total / n:.1f} per contact ("
              + ", ".join(f"{k} {v / n:.1f}" for k, v in counted.most_common()) + ")")
    ratios = sorted(t.cpu / b.cpu for t, b in zip(through, floor, strict=True))
    print(f"engine / floor: {e / f:.2f}x (target at most 2x); against the stock floor "
          f"{e / s:.2f}x  (medians of {args.rounds} rounds)")
    print(f"engine / floor round by round: {', '.join(f'{r:.2f}x' for r in ratios)}; "
          f"least CPU of each: {min(t.cpu for t in through) / min(b.cpu for b in floor):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
