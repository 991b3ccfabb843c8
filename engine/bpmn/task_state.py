"""SpiffWorkflow's `Task._set_state` without its log records while nobody reads them.

On every change of a task's state SpiffWorkflow builds an INFO record with the task's
details (`collect_log_extras`: its data included) before the logging module looks at the
level; the engine keeps `spiff` at WARNING (engine/logs.py), so each record is built and
thrown away: a few percent of a contact's CPU. Here the level is asked first; when INFO
(or DEBUG, for an unchanged state) is on, the stock method runs, logs and all.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from SpiffWorkflow import task as spiff_task
from SpiffWorkflow.task import Task

_logger = spiff_task.logger


def _set_state(self: Any, value: int) -> None:
    if value != self._state:
        if _logger.isEnabledFor(logging.INFO):
            _STOCK(self, value)
            return
        self.last_state_change = time.time()
        self._state = value
    elif _logger.isEnabledFor(logging.DEBUG):
        _STOCK(self, value)


_STOCK = getattr(Task, "_mash_stock_set_state", Task._set_state)


def install() -> None:
    """Once per process; the stock method stays as `Task._mash_stock_set_state` (the floor
    benchmark runs SpiffWorkflow as installed with it)."""
    if getattr(Task, "_mash_stock_set_state", None) is None:
        Task._mash_stock_set_state = _STOCK
        Task._set_state = _set_state
