"""Structured logs: one JSON object a line. Only ids, kinds and states go in: never a name,
an address, concerns or any other personal data about a child or a referrer."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def quiet_libraries() -> None:
    """SpiffWorkflow logs each task with its data (the contact, the child) at DEBUG and
    INFO; whatever level the service runs at, those never reach the logs."""
    logging.getLogger("spiff").setLevel(logging.WARNING)
    from .bpmn import task_state

    task_state.install()  # and builds no records for them while that is so



def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # A wake-up skipped because one is already running is expected, not a warning.
    logging.getLogger("apscheduler").setLevel("ERROR")
