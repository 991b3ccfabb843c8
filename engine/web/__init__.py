"""The web task inbox and case view (served by `mash serve`)."""

from __future__ import annotations

from typing import Any


def routes(app: Any, engine: Any) -> None:
    """Mount the web pages on the API app."""
