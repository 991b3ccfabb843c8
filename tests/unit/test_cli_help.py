"""The command line describes itself: every command has a one-line description in its group's
--help, its own --help opens with it, and the processes folder and database defaults read
the same wherever they are offered (the README and docs/ included)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from engine.cli import build_parser
from engine.cli.common import DATABASE_DEFAULT, PROCESSES_DEFAULT
from tests.pathways.harness import REPOSITORY


def groups(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("mash",)
           ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser,
                               argparse._SubParsersAction]]:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield path, parser, action
            for name, child in action.choices.items():
                yield from groups(child, (*path, name))


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("mash",)
             ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for _, _, action in groups(parser, path):
        for name, child in action.choices.items():
            if not any(isinstance(a, argparse._SubParsersAction) for a in child._actions):
                yield (*path, name), child


def test_every_command_has_a_one_line_description_in_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # a terminal's usual width
    parser = build_parser()
    seen = 0
    for path, group, action in groups(parser):
        text = group.format_help()
        lines = {choice.dest: choice.help for choice in action._choices_actions}
        for name in action.choices:
            assert lines.get(name), f"{' '.join((*path, name))} has no help line"
            entry = re.search(rf"^    {re.escape(name)} +(.*)$", text, re.M)
            assert entry, f"{' '.join(path)} --help does not list {name} on one line"
            assert entry.group(1) == lines[name], f"{' '.join((*path, name))}: the line wraps"
            seen += 1
    assert seen >= 18  # every command of mash, token and report


def test_every_command_opens_its_own_help_with_what_it_does() -> None:
    for path, parser in commands(build_parser()):
        assert parser.description, f"{' '.join(path)} --help has no description"


def test_the_defaults_read_the_same_everywhere() -> None:
    parser = build_parser()
    for path, command in commands(parser):
        for action in command._actions:
            if "--processes" in action.option_strings:
                assert action.help and PROCESSES_DEFAULT in action.help, " ".join(path)
            if "--database" in action.option_strings and path != ("mash", "simulate"):
                assert action.help and DATABASE_DEFAULT in action.help, " ".join(path)
    assert PROCESSES_DEFAULT in (parser.description or "")
    assert DATABASE_DEFAULT in (parser.description or "")
    for document in ("README.md", "docs/operations.md"):
        text = (REPOSITORY / document).read_text(encoding="utf-8").replace("`", "")
        assert PROCESSES_DEFAULT in " ".join(text.split()), document
