"""What `mash validate` reports: one line per problem, naming the file, the element (or the
line of a configuration file) and what to do. Warnings are shown but do not stop a deploy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    element_id: str | None
    element_name: str | None
    message: str
    hint: str = ""
    warning: bool = False

    def __str__(self) -> str:
        where = self.file
        if self.element_id:
            where += f": {self.element_id}"
            if self.element_name:
                where += f' "{self.element_name}"'
        text = f"{where}: {'warning: ' if self.warning else ''}{self.message}"
        text = f"{text}; {self.hint}" if self.hint else text
        return " ".join(text.splitlines())  # one problem, one line


class DiagramError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
