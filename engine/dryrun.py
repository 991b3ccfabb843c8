"""The dry run: before `mash validate` says "valid", every diagram is driven through the real
engine, handlers, calendar and directory, on a throwaway database and a virtual clock, with
generated contacts and answers chosen to take every branch.

What the static checks cannot see is found here: a handler that refuses the data a path
gives it, a notification to a role with no address, a condition that fails on the values a
form allows, a timer that cannot be set, a form no answer satisfies. Each failure is a
problem naming the element where it happened and what led there; a sequence flow the run
never took is a warning (its condition may never hold, or the run could not find the
answers that take it).

The search is coverage-guided. The first batch varies contacts one thing at a time from
the main road: when they arrive (Hub hours, evening, night, weekend, the Friday gap), each
flag, channel, kind of child (unknown, open, recently closed), postcode (BCP, a neighbour,
a split sector, elsewhere, malformed, none), referrer and consent. Each form field of each
task gets each of its values in turn (least-used first, in the form's order: booleans both
ways, every enum option, numbers across their range), and each task is answered at once or
after its deadlines have passed. Every run is recorded as an *episode*: its start and each
decision taken. While flows remain untaken, later batches replay the episodes that reached
an untaken flow's source with a decision or two changed, likeliest first: the answers its
condition reads; a detail of another run's contact in which a name the condition reads took
a value this run never saw (with those answers changed too); when the source task was
answered (a deadline on it); each detail of the contact; when the other tasks were answered.
Each untaken flow gets its turn in a batch. The search stops when every flow is taken, when
two batches take nothing new, or after MAX_BATCHES: the same diagrams give the same result
on any machine (the time budget only guards against a pathological diagram).
"""

from __future__ import annotations

import heapq
import random
import re
import shutil
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .clock import VirtualClock, iso_z
from .diagrams import DiagramSet
from .problems import Problem
from .runtime import Advance, OpenTask

LONDON = ZoneInfo("Europe/London")
WEEK = date(2026, 6, 8)  # a Monday, in a week with no bank holiday
# When contacts arrive, from the Monday of WEEK: Hub hours, evening, night, weekend, and
# the Friday quarter-hour when neither the Hub nor Out of Hours is on duty.
ARRIVALS = (timedelta(hours=10), timedelta(hours=19, minutes=30), timedelta(days=1, hours=3),
            timedelta(days=5, hours=11), timedelta(days=4, hours=16, minutes=50),
            timedelta(days=2, hours=14))
LATE = timedelta(days=12)  # a late answer: past 5 working days, a weekend and a holiday
LONGEST = timedelta(days=120)  # a batch longer than this has something stuck
TIME_BUDGET = 120.0  # seconds; a guard only, the first batch always runs to its end
MAX_BATCHES = 10
PER_FLOW = 16  # replays tried for one untaken flow in a batch
MAX_REPLAYS = 24  # replays in one batch
OPEN_CHILD, CLOSED_CHILD = "dry-run-open", "dry-run-closed"
# Children named again (issue 17): each generated contact is about a child of its own unless
# its `child` is REPEAT (the same child as every other REPEAT contact, by name and date of
# birth) or NEAR (that child's name spelt a little differently, each time differently: a near
# match, never an exact one).
REPEAT, NEAR = "dry-run-repeat", "dry-run-near"
RECORDS = 64  # case records of each kind: a contact's known child is one not in progress


@dataclass
class DryRun:
    problems: list[Problem] = field(default_factory=list)  # failures: errors
    warnings: list[Problem] = field(default_factory=list)  # flows never taken, stuck runs
    instances: int = 0
    batches: int = 0
    tasks: int = 0
    flows: int = 0
    taken: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"dry run: {self.instances} instances in {self.batches} batches, "
                f"{self.tasks} tasks answered, "
                f"{self.taken}/{self.flows} sequence flows taken, {self.seconds:.1f} s")


class _Chooser:
    """Picks, for each decision point, the value it has used least (ties: the first, so a
    form's declared order and a contact's main road come first)."""

    def __init__(self, seed: int) -> None:
        self.used: dict[Any, Counter[str]] = {}
        self.rng = random.Random(seed)

    def pick(self, key: Any, candidates: list[Any]) -> Any:
        counts = self.used.setdefault(key, Counter())
        least = min(counts[repr(c)] for c in candidates)
        chosen = next(c for c in candidates if counts[repr(c)] == least)
        counts[repr(chosen)] += 1
        return chosen


@dataclass(order=True)
class _Work:
    due: datetime
    seq: int
    task: OpenTask = field(compare=False)
    instance: str = field(compare=False)
    tries: int = field(compare=False, default=0)


@dataclass
class _Episode:
    """One instance's run, as decisions that can be replayed with changes."""

    process: str
    arrival: timedelta  # from the Monday of its batch
    contact: dict[str, Any] = field(default_factory=dict)  # dimension -> value chosen
    data: dict[str, Any] = field(default_factory=dict)  # start data, for other processes
    answers: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    timings: dict[str, list[str]] = field(default_factory=dict)

    def replay(self) -> _Episode:
        """A plan to run again: its decisions, taken in order as the tasks come."""
        return _Episode(self.process, self.contact.get("arrival", self.arrival),
                        dict(self.contact), dict(self.data),
                        {k: list(v) for k, v in self.answers.items()},
                        {k: list(v) for k, v in self.timings.items()})


class _Run:
    def __init__(self, diagrams: DiagramSet, folder: Path | None, seed: int,
                 budget: float) -> None:
        self.diagrams = diagrams
        self.config = folder
        self.chooser = _Chooser(seed)
        self.budget = budget
        self.result = DryRun()
        self.failed: dict[tuple[str | None, str], str] = {}  # (element, error) -> instance
        self.story: dict[str, list[str]] = {}  # instance -> what led it where it is
        self.work: list[_Work] = []
        self.seq = 0
        self.episodes: dict[str, _Episode] = {}  # instance -> what it did
        self.plans: dict[str, _Episode] = {}  # instance -> decisions still to replay
        self.options: dict[tuple[str, str], list[Any]] = {}  # (task, field) -> values it takes
        self.prefilled: dict[str, set[str]] = {}
        self.tried: set[str] = set()
        self.paths: dict[str, list[str]] = {}
        self.scheduled: set[str] = set()  # task ids already given a time to be answered
        self.born = 0  # contacts given a child of their own so far

    # -- set-up ---------------------------------------------------------------------------

    def run(self) -> DryRun:
        from .service import Engine
        from .store import Store

        started = time.monotonic()
        folder = Path(tempfile.mkdtemp(prefix="mash-dry-run-"))
        try:
            for name, content in self.diagrams.files.items():
                (folder / name).write_bytes(content)
            for name in ("calendar.toml", "directory.toml"):
                if self.config is not None and (self.config / name).is_file():
                    shutil.copy(self.config / name, folder / name)
            store = Store(f"sqlite:///{folder / 'dry-run.sqlite'}", synchronous="OFF")
            store.create()
            self.clock = VirtualClock(datetime.combine(WEEK, datetime.min.time(), LONDON))
            self.engine = Engine(store, self.clock, folder)
            self.engine.deploy([folder])
            self.engine.observers.append(self._observe)
            self.prefilled = _prefillable(self.diagrams)
            deadline = started + self.budget
            plans = self._first_plans()
            progress: list[int] = []
            for _ in range(MAX_BATCHES):
                self._batch(plans)
                self.result.batches += 1
                untaken = self._untaken(store)
                progress.append(len(untaken))
                if len(progress) > 2 and progress[-1] == progress[-3]:
                    break  # two batches found nothing new
                if not untaken or time.monotonic() > deadline:
                    break
                plans = self._mutations(store, untaken)
                if not plans:
                    break
            self._report(store)
            self._check_declarations(store)
            store.dispose()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.result.seconds = time.monotonic() - started
        return self.result

    def _children(self, monday: datetime) -> list[dict[str, Any]]:
        """The case records the contacts' children are looked up in: open with a worker, and
        closed four weeks before the batch (a re-referral, a recent worker); RECORDS of each,
        so that contacts about them are about different children, not repeats."""
        team = next(iter(self.engine.directory.teams), None)
        closed = monday.date() - timedelta(weeks=4)
        return [record for k in range(RECORDS) for record in (
            {"child_id": f"{OPEN_CHILD}-{k}", "status": "open", "allocated_worker": "A. Worker",
             "worker_email": "a.worker@dry-run.invalid", "team": team},
            {"child_id": f"{CLOSED_CHILD}-{k}", "status": "closed", "allocated_worker": "B. Worker",
             "worker_email": "b.worker@dry-run.invalid", "team": team, "closed_on": closed})]

    # -- what arrives -----------------------------------------------------------------------

    def _first_plans(self) -> list[_Episode]:
        """The first batch: every pair of values of any two of a contact's details (arrival,
        flag, channel, child, postcode, referrer, consent) in at least one contact, the main
        road (the first value of each) first; the same for disagreements; two starts of each
        other process people start (one only called, or started by its timer, is not)."""
        from .simulation.runner import CONTACT_PROCESS, DISAGREEMENT_PROCESS

        plans: list[_Episode] = []
        models = self.diagrams.models
        called = {c for m in models.values() for c in m.calls}
        for process_id, model in sorted(models.items()):
            if model.start_timer is not None or process_id in called:
                continue
            if process_id in (CONTACT_PROCESS, DISAGREEMENT_PROCESS):
                variants = _pairwise(self._dimensions(process_id))
            else:
                variants = [{}, {}]
            plans += [_Episode(process_id, contact.get("arrival", ARRIVALS[i % len(ARRIVALS)]),
                               contact) for i, contact in enumerate(variants)]
        return plans

    def _dimensions(self, process: str) -> dict[str, list[Any]]:
        """What a contact (or a disagreement) varies in, and the values each takes, the
        main road's first."""
        from handlers.intake import CHANNELS, CONSENT, FLAGS

        from .simulation.runner import CONTACT_PROCESS, DISAGREEMENT_PROCESS

        if process == DISAGREEMENT_PROCESS:
            return {"informal_attempt_failed": [True, False],
                    "raised_by": ["with email", "no email", None]}
        if process != CONTACT_PROCESS:
            return {}
        return {
            "arrival": list(ARRIVALS),
            # one flag at a time: a contact with every flag set takes the first branch only
            "flag": [None, *FLAGS],
            "channel": list(CHANNELS),
            "child": [None, OPEN_CHILD, CLOSED_CHILD, "dry-run-unknown", REPEAT, NEAR],
            "postcode": _postcodes(),
            "referrer": ["professional", "public", "professional without email"],
            "consent": [*CONSENT, None],
        }

    def _contact(self, episode: _Episode) -> dict[str, Any]:
        from handlers.intake import FLAGS, validate_contact

        choice = episode.contact
        for what, values in self._dimensions(episode.process).items():
            if what not in choice:
                choice[what] = self.chooser.pick(what, values)
        referrer: dict[str, Any] = {"name": "Dry Run", "kind": choice["referrer"].split()[0]}
        if choice["referrer"] == "professional":
            referrer.update(agency="School", email="referrer@dry-run.invalid")
        child: dict[str, Any] = {"name": "Dry Run", "dob": "2016-01-01"}
        if choice["child"] == REPEAT:
            child["name"] = "Dry Run"
        elif choice["child"] == NEAR:  # near the REPEAT child, and near (not equal to) each other
            self.born += 1
            child["name"] = "Dry Run" + "abcdefghijklmnopqrstuvwxyz"[self.born % 26]
        else:  # a child of its own: a date of birth no other contact gives
            self.born += 1
            child["dob"] = (date(2010, 1, 1) + timedelta(days=self.born)).isoformat()
            if choice["child"]:  # a case record of that kind, not the last contact's
                child["id"] = f"{choice['child']}-{self.born % RECORDS}"
        if choice["postcode"]:
            child["postcode"] = choice["postcode"]
        contact: dict[str, Any] = {
            "channel": choice["channel"], "concerns": "A dry run of the diagrams.",
            "referrer": referrer, "child": child,
            **{name: name == choice["flag"] for name in FLAGS},
        }
        if choice["consent"]:
            contact["consent"] = choice["consent"]
        clean, errors = validate_contact(contact)
        if errors:  # the generator's own mistake; never sent into the run
            raise AssertionError(f"dry run generated an invalid contact: {errors}")
        return clean

    def _disagreement(self, episode: _Episode) -> dict[str, Any]:
        choice = episode.contact
        for what, values in self._dimensions(episode.process).items():
            if what not in choice:
                choice[what] = self.chooser.pick(what, values)
        raised_by = None if choice["raised_by"] is None else {
            "name": "Dry Run", "agency": "School",
            **({"email": "raiser@dry-run.invalid"} if choice["raised_by"] == "with email" else {})}
        return {"raised_at": iso_z(self.clock.now()), "about": None,
                "summary": "A dry run of the escalation policy.",
                "informal_attempt_failed": choice["informal_attempt_failed"],
                "raised_by": raised_by}

    def _declared_start(self, process_id: str) -> dict[str, Any]:
        """A process started with the fields its start event declares (Camunda's start
        form), or with nothing."""
        from . import forms
        from .diagrams import NS

        root = self.diagrams.trees[self.diagrams.models[process_id].file]
        data: dict[str, Any] = {}
        for process in root.iterfind("bpmn:process", NS):
            if process.get("id") != process_id:
                continue
            for node in process.xpath("./bpmn:startEvent/bpmn:extensionElements/camunda:formData/"
                                      "camunda:formField", namespaces=NS):
                try:
                    form_field = forms.read_field(node)
                except ValueError:
                    continue
                data[form_field["id"]] = self.chooser.pick((process_id, form_field["id"]),
                                                           self._candidates(form_field, {}))
        return data

    # -- the run ----------------------------------------------------------------------------

    def _batch(self, plans: list[_Episode]) -> None:
        from handlers.case_records import seed_children

        monday = datetime.combine(self.clock.now().astimezone(LONDON).date(), datetime.min.time(),
                                  LONDON)
        monday += timedelta(days=(7 - monday.weekday()) % 7 or 7)
        with self.engine.store.transaction() as conn:
            seed_children(conn, self._children(monday))
        arrivals = sorted(((monday + plan.contact.get("arrival", plan.arrival), i, plan)
                           for i, plan in enumerate(plans)), key=lambda a: a[:2])
        limit = monday + LONGEST
        next_arrival = 0
        while True:
            candidates = []
            if self.work:
                candidates.append(self.work[0].due)
            if next_arrival < len(arrivals):
                candidates.append(arrivals[next_arrival][0])
            elif not self.work and not self._waiting():
                return  # everything started has ended (or failed)
            due = self._next_due()
            if due is not None:
                candidates.append(due)
            if not candidates:
                return
            at = max(min(candidates), self.clock.now())
            if at > limit:
                return
            if at > self.clock.now():
                self.clock.set(at)
            if self.work and self.work[0].due <= at:
                while self.work and self.work[0].due <= at:
                    self._complete(heapq.heappop(self.work))
            elif next_arrival < len(arrivals) and arrivals[next_arrival][0] <= at:
                while next_arrival < len(arrivals) and arrivals[next_arrival][0] <= at:
                    self._start(arrivals[next_arrival][2])
                    next_arrival += 1
            else:
                self._guarded(None, "firing timers", self.engine.fire_due)

    def _next_due(self) -> datetime | None:
        """The engine's next due instant; a timer-started process's next start only while an
        instance waits for a message (as a PPN waits for the meeting): the daily meetings
        in between have nothing to do and would only slow the run."""
        from .store import instances, messages, schedules

        with self.engine.store.reading() as conn:
            if conn.execute(sa.select(messages.c.id).where(
                    messages.c.delivered_at.is_(None)).limit(1)).first() is not None:
                return self.clock.now()
            dues = [conn.execute(sa.select(sa.func.min(instances.c.next_due))).scalar()]
            if conn.execute(sa.select(instances.c.id).where(
                    instances.c.waiting_for.is_not(None), instances.c.state == "waiting")
                    .limit(1)).first() is not None:
                dues.append(conn.execute(sa.select(sa.func.min(schedules.c.next_at))).scalar())
        found = [_aware(d) for d in dues if d is not None]
        return min(found) if found else None

    def _waiting(self) -> bool:
        from .store import instances

        with self.engine.store.reading() as conn:
            return conn.execute(sa.select(instances.c.id).where(
                instances.c.state == "waiting").limit(1)).first() is not None

    def _start(self, plan: _Episode) -> None:
        from .simulation.runner import CONTACT_PROCESS, DISAGREEMENT_PROCESS

        process = plan.process
        if process == CONTACT_PROCESS:
            data = self._contact(plan)
        elif process == DISAGREEMENT_PROCESS:
            data = self._disagreement(plan)
        else:
            data = plan.data = plan.data or self._declared_start(process)
        episode = _Episode(process, plan.arrival, dict(plan.contact), dict(data))
        instance_id = str(uuid.uuid4())
        # known before it starts: its first tasks open while it starts
        self.story[instance_id] = [f"{process} started "
                                   f"{self.clock.now().astimezone(LONDON):%a %H:%M} with "
                                   + _describe(data)]
        self.episodes[instance_id], self.plans[instance_id] = episode, plan.replay()
        started = self._guarded(instance_id, f"starting {process}", lambda: self.engine.start(
            process, data, "dry run", instance_id=instance_id))
        if started is not None:
            self.result.instances += 1

    def _guarded(self, instance: str | None, doing: str, action: Any) -> Any:
        """Run an engine command; what it raises (rather than recording an incident) is a
        failure too: in the service it would be an error answer and nothing stored."""
        try:
            return action()
        except Exception as err:
            from .service import Conflict, FormRejected

            if isinstance(err, Conflict | FormRejected):
                raise
            task = getattr(err, "task", None)
            element = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
            self._failure(element, f"{doing}: {type(err).__name__}: {err}", instance)
            return None

    def _observe(self, instance_id: str, advance: Advance) -> None:
        if instance_id not in self.story:  # started by the engine (a schedule)
            self.story[instance_id] = [f"started by its schedule "
                                       f"{self.clock.now().astimezone(LONDON):%a %H:%M}"]
            self.result.instances += 1
        if advance.state == "incident" and advance.error:
            self._failure(self._failed_step(instance_id, advance.error), advance.error,
                          instance_id)
        for task in advance.open_tasks:
            if task.id in self.scheduled:
                continue  # still open from an earlier command: already planned
            self.scheduled.add(task.id)
            timing = self._decide(instance_id, task.element_id, None, ["now", "late"])
            if instance_id in self.episodes:
                self.episodes[instance_id].timings.setdefault(task.element_id, []).append(timing)
            due = self.clock.now()
            if timing == "late":  # after every deadline on it (the due instant itself meets one)
                due = max(due + LATE, task.due + timedelta(minutes=1) if task.due else due)
            self.seq += 1
            heapq.heappush(self.work, _Work(due, self.seq, task, instance_id))

    def _failed_step(self, instance_id: str, error: str) -> str | None:
        """The element whose step failed: named at the start of the error, or else the task
        the stored workflow holds in its error state."""
        from SpiffWorkflow.util.task import TaskState

        from . import rows
        from .bpmn import state
        from .store import instances

        match = re.match(r"^([\w.-]+)", error)
        if match and self._where(match[1])[1] is not None:
            return match[1]
        with self.engine.store.reading() as conn:
            row = conn.execute(sa.select(instances.c.id, instances.c.version_id)
                               .where(instances.c.id == instance_id)).first()
            if row is None:
                return None
            version = self.engine.deployments.version(row.version_id)
            workflow = state.restore(rows.state_document(conn, row.id), version.spec,
                                     version.subprocess_specs)
        tasks = [*workflow.tasks.values(), *(t for sub in workflow.subprocesses.values()
                                             for t in sub.tasks.values())]
        return next((t.task_spec.bpmn_id for t in tasks
                     if t.state == TaskState.ERROR and t.task_spec.bpmn_id), None)

    def _complete(self, work: _Work) -> None:
        from . import forms
        from .service import Conflict, FormRejected, NotFound

        task = work.task
        context: dict[str, Any] = {}
        if any("default" in f or (f["type"] == "string" and f["id"] in
                                  self.prefilled.get(task.element_id, ())) for f in task.form):
            # what the form shows filled in, or a text an earlier step gave, is kept
            context = self._guarded(work.instance, f"reading task {task.element_id}",
                                    lambda: self.engine.task_data(task.id))
            if context is None:
                return
        shown = forms.prefilled(task.form, context) if context else {}
        for attempt in range(12):  # the fields may depend on each other (valid_when)
            values = {}
            for form_field in task.form:
                name = form_field["id"]
                options = self._candidates(form_field, context)
                if name in shown:  # a person accepts what is shown; a replay may change it
                    options = [shown[name], *(o for o in options if o != shown[name])]
                self.options[(task.element_id, name)] = options
                values[name] = self._decide(work.instance, task.element_id, name, options,
                                            fresh=work.tries > 0 or attempt > 0,
                                            accept=name in shown and attempt == 0)
            _, refused = forms.validate(task.form, values, context)
            if not refused:
                break
        try:
            self._guarded(work.instance, f"completing {task.element_id}",
                          lambda: self.engine.complete(task.id, values, "dry run"))
        except (Conflict, NotFound):
            return  # withdrawn meanwhile (an interrupting deadline): nothing to answer
        except FormRejected as err:
            if work.tries < 3:  # other values: the fields depend on each other
                self.seq += 1  # (the same task again: already in `scheduled`)
                heapq.heappush(self.work, _Work(self.clock.now(), self.seq, task,
                                                work.instance, work.tries + 1))
            else:
                self._failure(task.element_id, f"no answer the dry run tried was accepted "
                              f"(last: {err})", work.instance)
            return
        self.result.tasks += 1
        if work.instance in self.episodes:
            for name, value in values.items():
                self.episodes[work.instance].answers.setdefault(
                    (task.element_id, name), []).append(value)
        self.story.setdefault(work.instance, []).append(
            f"{task.element_id}: " + _describe({k: v for k, v in values.items() if v is not None}))

    def _decide(self, instance: str, element: str, name: str | None, candidates: list[Any],
                fresh: bool = False, accept: bool = False) -> Any:
        """The next decision of the instance's plan here, or else the chooser's. `name`
        None: when to answer the task; `fresh`: the plan's answer was refused, choose anew;
        `accept`: the first candidate (what the form shows) unless the plan says otherwise."""
        plan = self.plans.get(instance)
        queues: dict[Any, list[Any]] = {}
        if plan is not None:
            queues = plan.timings if name is None else plan.answers
        key = element if name is None else (element, name)
        queue = queues.get(key)
        planned = queue.pop(0) if queue else _NONE
        if planned is _NONE or fresh or planned not in candidates:
            if accept and not fresh:
                return candidates[0]
            return self.chooser.pick(key if name is not None else (element, "when"), candidates)
        return planned

    def _candidates(self, form_field: dict[str, Any], context: dict[str, Any]) -> list[Any]:
        """The values a person could give a field, to be tried in turn."""
        kind, name = form_field["type"], form_field["id"]
        optional = [] if form_field.get("required") else [None]
        if kind == "boolean":
            return [True, False, *optional]
        if kind == "enum":
            ids = [o["id"] for o in form_field.get("options", [])]
            if form_field.get("multiple"):
                return [[i] for i in ids] + [ids[:2], *optional]
            return [*ids, *optional]
        if kind == "long":
            low = form_field.get("min", 0 if "max" in form_field else 1)
            high = form_field.get("max", low + 3)
            numbers = range(low, high + 1) if high - low <= 6 else (low, low + 1, high - 1, high)
            return [*numbers, *optional]
        if kind == "date":
            return [iso_z(self.clock.now())[:10], *optional]
        prefilled = context.get(name)
        if isinstance(prefilled, str) and prefilled:
            return [prefilled]  # the person accepts what is there
        known = {"authority": list(self.engine.directory.authorities),
                 "team": list(self.engine.directory.teams)}.get(name)
        if known:
            return [*known, *optional]
        if name.endswith("email"):
            return ["someone@dry-run.invalid", *optional]
        text = "Dry run answer."
        text = text.ljust(form_field.get("minlength", 0), ".")[:form_field.get("maxlength", 20_000)]
        return [text, *optional]

    # -- the search ---------------------------------------------------------------------------

    def _mutations(self, store: Any, untaken: set[str]) -> list[_Episode]:
        """Replays of the episodes that reached an untaken flow's source, with one decision
        (or a relevant answer and a contact's detail) changed."""
        from .store import history

        with store.reading() as conn:
            rows = conn.execute(sa.select(history.c.element_id, history.c.instance_id,
                                          history.c.changes)
                                .where(history.c.element_id.is_not(None))).all()
        reached: dict[str, list[str]] = {}
        values: dict[str, dict[str, set[str]]] = {}  # instance -> name -> values it took
        self.paths = {}  # instance -> the elements it completed, in order
        for element, instance, changes in rows:
            if instance in self.episodes:
                self.paths.setdefault(instance, []).append(element)
                if instance not in reached.setdefault(element, []):
                    reached[element].append(instance)
                for name, value in (changes or {}).items():
                    values.setdefault(instance, {}).setdefault(name, set()).add(repr(value))
        for instance, episode in self.episodes.items():  # what it started with
            for name, value in episode.data.items():
                values.setdefault(instance, {}).setdefault(name, set()).add(repr(value))
        streams = [self._flow_variants(flow, reached, values) for flow in sorted(untaken)]
        plans: list[_Episode] = []
        while streams and len(plans) < MAX_REPLAYS:  # a turn for each untaken flow
            for stream in list(streams):
                variant = next(stream, None)
                if variant is None:
                    streams.remove(stream)
                elif len(plans) < MAX_REPLAYS:
                    plans.append(variant)
        return plans

    def _flow_variants(self, flow: str, reached: dict[str, list[str]],
                       values: dict[str, dict[str, set[str]]]) -> Any:
        source, reads = self._flow_source(flow)
        made = 0
        episodes = list(reached.get(source or "", []))
        self.chooser.rng.shuffle(episodes)
        for instance in episodes[:4]:
            episode = self.episodes[instance]
            # Names the condition reads that no answer of this run gives: runs in which
            # such a name took a value this one never saw lend a detail of their contact.
            answered = {field for _, field in episode.answers}
            mine = values.get(instance, {})
            donated: list[dict[str, Any]] = []
            for name in sorted(reads - answered):
                lenders: dict[str, str] = {}
                for other, seen in values.items():
                    if other != instance and self.episodes[other].process == episode.process:
                        for value in sorted(seen.get(name, set()) - mine.get(name, set())
                                            - {"None"}):
                            lenders.setdefault(value, other)
                for other in lenders.values():
                    details = [{what: value} for what, value
                               in self.episodes[other].contact.items()
                               if episode.contact.get(what) != value and {what: value}
                               not in donated]
                    # the detail that is the name itself (channel, a flag) before the rest
                    details.sort(key=lambda d: next(iter(d)) != name and next(iter(d.values()))
                                 != name)
                    donated += details
            for variant in self._variants(episode, reads, donated, source or ""):
                signature = repr((variant.process, sorted(variant.contact.items(), key=str),
                                  sorted(variant.answers.items(), key=str),
                                  sorted(variant.timings.items(), key=str)))
                if signature in self.tried:
                    continue
                self.tried.add(signature)
                yield variant
                made += 1
                if made >= PER_FLOW:
                    return

    def _flow_source(self, flow: str) -> tuple[str | None, set[str]]:
        """The element an episode must reach to take `flow` (a boundary event's activity),
        and the names the conditions leaving its source read."""
        from .diagrams import BPMN, CAMUNDA
        from .expression_checks import problems as expression_problems
        from .expression_checks import reads

        for model in self.diagrams.models.values():
            if flow not in model.flows:
                continue
            source = model.flows[flow][0]
            root = self.diagrams.trees[model.file]
            names: set[str] = set()
            for node in root.iter(f"{BPMN}sequenceFlow"):
                condition = node.find(f"{BPMN}conditionExpression")
                if node.get("sourceRef") == source and condition is not None:
                    tree, _ = expression_problems(condition.text)
                    names |= reads(tree) if tree is not None else set()
            element = root.xpath(".//*[@id=$id]", id=source)
            if element and element[0].get("attachedToRef"):
                source = element[0].get("attachedToRef")
            if element and element[0].get(f"{CAMUNDA}decisionRef"):
                decision = self.diagrams.decisions.get(element[0].get(f"{CAMUNDA}decisionRef"))
                names |= decision.reads if decision else set()
            return source, names
        return None, set()

    def _variants(self, episode: _Episode, reads: set[str], donated: list[dict[str, Any]],
                  source: str) -> Any:
        """Plans that differ from the episode in a decision or two, likeliest first: the
        answers the condition reads; a detail of the contact of another run in which a name
        it reads took another value (with those answers changed too); when the source task
        was answered (a deadline on it); each detail of the contact; when the other tasks
        were answered; an answer and a detail together."""
        # the answers nearest before the source first: the likeliest to decide it
        path = self.paths.get(next((i for i, e in self.episodes.items() if e is episode), ""), [])
        before = path[:path.index(source)] if source in path else path

        def nearness(key: tuple[str, str]) -> int:
            return -max((n for n, element in enumerate(before) if element == key[0]),
                        default=-len(path) - 1)

        answers = [(key, i) for key, values in sorted(episode.answers.items(),
                                                      key=lambda kv: nearness(kv[0]))
                   if key[1] in reads for i in reversed(range(len(values)))]
        dimensions = self._dimensions(episode.process)

        def answered(key: tuple[str, str], i: int, base: _Episode = episode) -> Any:
            for value in self.options.get(key, []):
                if value != base.answers[key][i]:
                    plan = base.replay()
                    plan.answers[key][i] = value
                    del plan.answers[key][i + 1:]
                    yield plan

        def contacted() -> Any:
            for what, values in dimensions.items():
                for value in values:
                    if what in episode.contact and value != episode.contact[what]:
                        plan = episode.replay()
                        plan.contact[what] = value
                        yield plan

        def crossed() -> Any:
            for detail in donated:  # one detail of the other run's contact at a time
                plan = episode.replay()
                plan.contact.update(detail)
                yield plan
                for key, i in answers:
                    yield from answered(key, i, plan)

        if donated:  # the condition reads a name no answer of this run gives: lend it first
            yield from crossed()
        for key, i in answers:
            yield from answered(key, i)
        def retimed(elements: list[str]) -> Any:
            for element in elements:
                for i, timing in enumerate(episode.timings[element]):
                    plan = episode.replay()
                    plan.timings[element][i] = "now" if timing == "late" else "late"
                    yield plan

        yield from retimed([e for e in episode.timings if e == source])
        yield from contacted()
        yield from retimed([e for e in episode.timings if e != source])
        for key, i in answers:  # the answer read and a detail of the contact, together
            for changed in answered(key, i):
                for what, values in dimensions.items():
                    for value in values:
                        if what in changed.contact and value != changed.contact[what]:
                            plan = changed.replay()
                            plan.contact[what] = value
                            yield plan

    # -- what it found ----------------------------------------------------------------------

    def _failure(self, element: str | None, error: str, instance: str | None) -> None:
        key = (element, error.split(":")[0] if element else error)
        if key in self.failed:
            return
        self.failed[key] = instance or ""
        file, name = self._where(element)
        story = "; then ".join(self.story.get(instance or "", [])[-6:])
        self.result.problems.append(Problem(
            file, element, name, f"the dry run failed here: {error[:600]}",
            f"reached by {story}" if story else "fix the step, its data or the configuration"))

    def _where(self, element: str | None) -> tuple[str, str | None]:
        for model in self.diagrams.models.values():
            if element in model.elements:
                return self.diagrams.shown(model.file), model.elements[element].name
            if element in model.flows:
                return self.diagrams.shown(model.file), None
        return "the dry run", None

    def _untaken(self, store: Any) -> set[str]:
        from .store import history

        with store.reading() as conn:
            taken = {r[0] for r in conn.execute(sa.select(history.c.flow_id).where(
                history.c.flow_id.is_not(None)).distinct())}
        every = {f for m in self.diagrams.models.values() for f in m.flows}
        return every - taken

    def _check_declarations(self, store: Any, sample: int = 40) -> None:
        """Each handler left the names it declares (`sets`, `empty`) in the data: what the
        names analysis relies on is what the handlers do."""
        from SpiffWorkflow.util.task import TaskState

        from . import registry, rows
        from .bpmn import state
        from .bpmn.specs import HandlerTask
        from .store import instances

        with store.reading() as conn:
            found = conn.execute(sa.select(instances.c.id, instances.c.version_id)
                                 .limit(sample)).all()
            documents = [(row.version_id, rows.state_document(conn, row.id)) for row in found]
        wrong: dict[str, set[str]] = {}
        for version_id, document in documents:
            version = self.engine.deployments.version(version_id)
            workflow = state.restore(document, version.spec, version.subprocess_specs)
            tasks = [*workflow.tasks.values(), *(t for sub in workflow.subprocesses.values()
                                                 for t in sub.tasks.values())]
            for task in tasks:
                if isinstance(task.task_spec, HandlerTask) and task.state == TaskState.COMPLETED:
                    declared = registry.outputs(task.task_spec.topic or "")
                    missing = (declared.sets | declared.empty) - set(task.data)
                    if missing:
                        wrong.setdefault(task.task_spec.topic or "", set()).update(missing)
        for topic, names in sorted(wrong.items()):
            self.result.problems.append(Problem(
                "the handlers", topic, None, f"the handler of topic {topic!r} declares that it "
                f"sets {', '.join(sorted(names))}, but left them out of the data",
                "fix its @handler(..., sets=...) declaration or the handler"))

    def _report(self, store: Any) -> None:
        from .store import instances

        untaken = self._untaken(store)
        every = [(m, f) for m in self.diagrams.models.values() for f in m.flows]
        self.result.flows, self.result.taken = len(every), len(every) - len(untaken)
        for model, flow in sorted(every, key=lambda mf: (mf[0].file, mf[1])):
            if flow not in untaken:
                continue
            source, target = model.flows[flow]
            named = self.diagrams.trees[model.file].xpath(".//*[@id=$id]/@name", id=flow)
            self.result.warnings.append(Problem(
                self.diagrams.shown(model.file), flow, str(named[0]) if named else None,
                f"the dry run never took this flow ({source} -> {target})",
                "check that its condition can hold, and that the steps before it can be "
                "reached", warning=True))
        with store.reading() as conn:
            stuck = conn.execute(sa.select(instances.c.id, instances.c.process_id,
                                           instances.c.waiting_for)
                                 .where(instances.c.state == "waiting")).all()
        for row in stuck[:5]:
            waiting = self.diagrams.models.get(row.process_id)
            self.result.warnings.append(Problem(
                self.diagrams.shown(waiting.file) if waiting else row.process_id, row.process_id,
                None, f"an instance was still waiting {LONGEST.days} days after it started"
                + (f" (for message {row.waiting_for!r})" if row.waiting_for else ""),
                "check that whatever it waits for is sent, and that every path reaches an end "
                "event", warning=True))


_NONE = object()  # no decision planned


def _pairwise(dimensions: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Combinations in which every pair of values of two dimensions occurs at least once
    (greedily, deterministic), the first combination all first values."""
    names = list(dimensions)
    Pair = tuple[str, int, str, int]
    uncovered: set[Pair] = {(a, i, b, j) for x, a in enumerate(names) for b in names[x + 1:]
                            for i in range(len(dimensions[a])) for j in range(len(dimensions[b]))}

    def gain(name: str, i: int, pick: dict[str, int]) -> int:
        """Pairs the value would cover with those picked, then pairs it could cover later."""
        now = sum((other, pick[other], name, i) in uncovered for other in pick)
        later = sum(1 for a, ia, _, _ in uncovered if a == name and ia == i)
        return now * 1000 + later

    chosen: list[dict[str, int]] = []
    while uncovered or not chosen:
        pick: dict[str, int] = {}
        for name in names:
            gains = [gain(name, i, pick) for i in range(len(dimensions[name]))]
            pick[name] = 0 if not chosen else gains.index(max(gains))
        covered = {(a, pick[a], b, pick[b]) for x, a in enumerate(names) for b in names[x + 1:]}
        if chosen and not covered & uncovered:
            break  # (cannot happen: the first value of a dimension covers a pair left)
        uncovered -= covered
        chosen.append(pick)
    return [{name: dimensions[name][i] for name, i in pick.items()} for pick in chosen]


def _prefillable(diagrams: DiagramSet) -> dict[str, set[str]]:
    """For each user task, its text fields an earlier step may already have given a value
    (the static analysis of engine/dataflow.py): only those need the task's data."""
    from .dataflow import _Analysis, start_data

    analysis = _Analysis(diagrams, start_data())
    analysis.solve()
    found: dict[str, set[str]] = {}
    for model in diagrams.models.values():
        for element in model.elements.values():
            before = analysis.before.get(element.id)
            if element.tag == "userTask" and before is not None:
                found[element.id] = {f["id"] for f in element.form if f["id"] in before.valued}
    return found


def _aware(value: Any) -> datetime:
    """An instant from a bare select (SQLite gives text, or a naive UTC datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _postcodes() -> list[str | None]:
    """A postcode in BCP, one in a neighbouring council, one in a sector split between
    councils, one outside the area, and one malformed (from the postcode data)."""
    from handlers.postcodes import BCP, areas

    found: dict[str, str] = {}
    for sector, area in areas().items():
        if " " not in sector:
            continue
        kind = "split" if not area.whole else "bcp" if area.authority == BCP else "other"
        found.setdefault(kind, f"{sector}AA")
    return [found["bcp"], *(v for k, v in found.items() if k != "bcp"), "SW1A 1AA",
            "NOT A POSTCODE", None]


def _describe(data: dict[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        if value in (None, False, "", [], {}) or key in ("concerns", "summary", "raised_at"):
            continue
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items() if k in ("id", "postcode",
                                                                               "kind", "email"))
        parts.append(f"{key}={value}" if value is not True else key)
    return ", ".join(parts[:8]) or "nothing"


def dry_run(diagrams: DiagramSet, folder: Path | None, *, seed: int = 0,
            budget: float = TIME_BUDGET) -> DryRun:
    """Drive the diagrams through generated contacts; `folder` holds calendar.toml and
    directory.toml (None: the defaults, no directory)."""
    return _Run(diagrams, folder, seed, budget).run()
