"""Everything `mash validate` and `mash deploy` check, before a diagram meets a contact.

1. Each file (engine/diagrams.py): XML safety, the BPMN and DMN schemas, every expression's
   safety and bounds, timers parsed fully and type-checked, handlers, forms, decisions.
2. The configuration beside the diagrams: `calendar.toml`, `directory.toml` and
   `retention.toml`, line by line; the times when neither the Hub nor Out of Hours is on
   duty (a warning).
3. The names each expression reads, against what can have set them (engine/dataflow.py).
4. What the standard handlers need of the diagram and the directory: every `role:NAME` a
   notification goes to has an address, every notification kind a template.
5. The dry run (engine/dryrun.py): every diagram driven through generated contacts on a
   throwaway database, every branch tried; what fails is an error, what is never reached a
   warning. Only when 1-4 found no error: a broken diagram would only fail again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import dataflow, diagrams
from .calendar_config import (
    CALENDAR_FILE,
    CalendarConfigError,
    _display_name,
    duty_gaps,
    load_calendar_config,
)
from .diagrams import BPMN, CAMUNDA, DiagramSet
from .directory import DIRECTORY_FILE, RoleDirectory, read_directory
from .dryrun import DryRun, dry_run
from .problems import Problem
from .retention import RETENTION_FILE, RetentionConfigError, load_schedule

if TYPE_CHECKING:
    from .deployments import Deployed
    from .service import Engine

# What the standard handlers (handlers/*.py) need of a service task: its properties.
REQUIRED_PROPERTIES = {"notify": ("kind", "to"), "deadline_breach": ("to",),
                       "add_case_note": ("kind",), "flag": ("flag",)}
# Who `to` may name besides role:NAME (handlers/notify.py, `recipients`), and the roles of
# the directory each falls back on.
RECIPIENTS = {"referrer": ("Business Support Officer",), "allocated_worker": (),
              "authority": (), "raised_by": (), "previous_worker": ("Business Support Officer",),
              "missing_report": ("CE & Missing Team Manager",)}


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    diagrams: DiagramSet | None = None
    dry_run: DryRun | None = None

    @property
    def valid(self) -> bool:
        return not self.errors and self.diagrams is not None


def config_folder(paths: list[Path]) -> Path:
    """Where calendar.toml and directory.toml are: the folder given, or the first file's."""
    for path in paths:
        if path.is_dir():
            return path
    return paths[0].parent if paths else Path(".")


def check(paths: list[Path], folder: Path | None = None, *, run: bool = True,
          budget: float | None = None) -> Report:
    """Every check of the files and folders `paths`, with the configuration in `folder`
    (default: see `config_folder`). `run`: also the dry run."""
    folder = folder if folder is not None else config_folder(paths)
    report = Report()
    files = diagrams.diagram_files(paths)
    if not any(name.endswith(".bpmn") for name in files):
        report.errors.append(Problem(", ".join(str(p) for p in paths), None, None,
                                     "holds no .bpmn files"))
        return report
    problems, found = diagrams.validate_files(files, diagrams.labels(paths))
    report.errors += problems
    calendar_problems, gaps = check_calendar(folder)
    report.errors += calendar_problems
    report.warnings += gaps
    directory, directory_problems = read_directory(folder)
    report.errors += [_line(message, "fix directory.toml") for message in directory_problems]
    try:
        load_schedule(folder)
    except RetentionConfigError as err:
        report.errors.append(_line(str(err), ""))
    if found is None:
        return report
    report.diagrams = found
    for problem in dataflow.check(found):
        (report.warnings if problem.warning else report.errors).append(problem)
    report.errors += handler_properties(found, directory, folder)
    if run and not report.errors:
        try:
            result = dry_run(found, folder) if budget is None else dry_run(found, folder,
                                                                            budget=budget)
        except Exception as err:  # a bug of the dry run's own: still one line, never a traceback
            report.errors.append(Problem("the dry run", None, None, f"could not run "
                                         f"({type(err).__name__}: {str(err)[:300]})",
                                         "please report this, with the diagrams"))
            return report
        report.dry_run = result
        report.errors += result.problems
        report.warnings += result.warnings
    return report


class NotDeployed(Exception):
    """A deploy refused by the checks: every problem, as `mash validate` lists them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def deploy(engine: Engine, paths: list[Path] | None = None) -> tuple[list[Deployed], list[Problem]]:
    """Every deploy a person asks for (`mash deploy`, `POST /deploy`, `mash serve --deploy`
    and a service's first start): everything `mash validate` checks, the dry run included,
    then the deployment. Returns what was deployed and the warnings; raises NotDeployed,
    with nothing written, when anything is wrong."""
    paths = paths or [engine.processes]
    warnings = checked(paths, engine.processes)
    try:
        results = engine.deploy(paths)
    except diagrams.DiagramError as err:
        raise NotDeployed(err.problems) from None
    return results, warnings


def checked(paths: list[Path], folder: Path) -> list[Problem]:
    """Every check (`check`, the dry run included) or NotDeployed; the warnings."""
    key = _content_key(paths, folder)
    warnings = _PASSED.get(key)
    if warnings is None:
        report = check(paths, folder)
        if report.errors:
            raise NotDeployed(report.errors)
        warnings = _PASSED[key] = report.warnings
    return warnings


# Contents that passed every check in this process, with their warnings: the checks (the dry
# run above all) depend only on the files and on the handlers' code, so the same contents
# deployed again (another service in a test run, a repeated POST /deploy) are not run again.
_PASSED: dict[str, list[Problem]] = {}


def _content_key(paths: list[Path], folder: Path) -> str:
    digest = hashlib.sha256()
    for name, content in sorted(diagrams.diagram_files(paths).items()):
        digest.update(name.encode() + b"\0" + diagrams.file_hash(content).encode() + b"\0")
    for name in (CALENDAR_FILE, DIRECTORY_FILE, RETENTION_FILE):
        path = folder / name
        content = path.read_bytes() if path.exists() else b"(none)"
        digest.update(name.encode() + b"\0" + diagrams.file_hash(content).encode() + b"\0")
    return digest.hexdigest()


def check_calendar(folder: Path) -> tuple[list[Problem], list[Problem]]:
    """calendar.toml's problems (errors, with their line) and its duty gaps (warnings)."""
    path = folder / CALENDAR_FILE
    shown = _display_name(path)
    if not path.exists():
        return [], []  # the engine's default: the BCP calendar (docs/diagrams.md)
    try:
        config = load_calendar_config(path)
    except CalendarConfigError as err:
        return [_line(str(err), "")], []
    gaps = [Problem(shown, None, None, f"neither the Hub nor Out of Hours is on duty {gap}",
                    "a contact then waits and an immediate safeguarding concern alerts nobody; "
                    "check [hub_hours] and [out_of_hours]", warning=True)
            for gap in duty_gaps(config)]
    return [], gaps


def _line(message: str, hint: str) -> Problem:
    """A configuration file's problem, `file line N: what`, as a problem line."""
    where, _, what = message.partition(": ")
    return Problem(where, None, None, what or message, hint)


def handler_properties(found: DiagramSet, directory: RoleDirectory, folder: Path) -> list[Problem]:
    """What the standard handlers will need when a service task runs: its properties, the
    directory's addresses for whom it notifies, the notification's template."""
    from handlers.notify import TEMPLATES

    problems: list[Problem] = []
    where = _display_name(folder / DIRECTORY_FILE)
    for name, root in found.trees.items():
        shown = found.shown(name)
        for node in root.iter(f"{BPMN}serviceTask"):
            topic = node.get(f"{CAMUNDA}topic") or ""
            props = _properties(node)

            def add(message: str, hint: str, node: Any = node, shown: str = shown) -> None:
                problems.append(Problem(shown, node.get("id"), node.get("name"), message, hint))

            for required in REQUIRED_PROPERTIES.get(topic, ()):
                if not props.get(required, "").strip():
                    add(f"the {topic} task has no property {required!r}",
                        f"add the extension property {required!r} in the modeller")
            if topic == "notify" and props.get("kind", "").strip():
                kind = props["kind"].strip()
                if not (TEMPLATES / f"{kind}.txt").is_file():
                    known = sorted(p.stem for p in TEMPLATES.glob("*.txt"))
                    add(f"no template for notification kind {kind!r}",
                        f"use one of {', '.join(known)}, or add handlers/templates/{kind}.txt")
            if topic in ("notify", "deadline_breach") and props.get("to", "").strip():
                for part in (p.strip() for p in props["to"].split(",") if p.strip()):
                    if part.startswith("role:"):
                        role = part.removeprefix("role:").strip()
                        if role not in directory.roles:
                            add(f"notifies role {role!r}, which has no address in {where}",
                                f'add "{role}" = ["...@..."] under [roles]')
                    elif part not in RECIPIENTS:
                        add(f"notifies {part!r}, whom the notify handler does not know",
                            f"use role:NAME or one of {', '.join(RECIPIENTS)}")
                    else:
                        for role in RECIPIENTS[part]:
                            if role not in directory.roles:
                                add(f"notifies {part}, which needs role {role!r} in {where} "
                                    "(when the contact has no address of its own)",
                                    f'add "{role}" = ["...@..."] under [roles]')
    return problems


def _properties(node: Any) -> dict[str, str]:
    return {p.get("name"): p.get("value") or "" for p in node.xpath(
        "./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=diagrams.NS)
        if p.get("name")}
