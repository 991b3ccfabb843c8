"""What a command on the engine can refuse with: the CLI, the API and the web pages turn each
into their own words (a line, a status code, a page)."""

from __future__ import annotations


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """Someone else changed it first (the task was completed, the instance moved on)."""


class Forbidden(Exception):
    pass


class FormRejected(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors
