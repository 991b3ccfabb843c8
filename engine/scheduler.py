"""Waking the engine when something falls due: a timer, a retry, a scheduled start.

One APScheduler job is armed at the soonest due instant the database holds; when it fires,
the engine fires everything due and the job is re-armed at the next. A command that sets an
earlier due time re-arms it at once (the engine tells its observers), and a slow poll
catches what another service on the same database changed. Firing is safe to repeat: the
engine re-checks each instance under its row lock, so two services never fire one timer.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from .runtime import Advance
from .service import Engine

log = logging.getLogger("mash.scheduler")

POLL_SECONDS = 15


class Wakeup:
    def __init__(self, engine: Engine, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._armed: datetime | None = None
        self._arm_lock = threading.Lock()
        self._fire_lock = threading.Lock()
        engine.observers.append(self._on_advance)

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(self._tick, "interval", seconds=self.poll_seconds, id="poll",
                               max_instances=1, coalesce=True)
        self._tick()  # what fell due while the service was down fires now

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)

    def _tick(self) -> None:
        with self._fire_lock:
            try:
                self.engine.refresh(force=True)  # a deployment made elsewhere: take it up
                # Due before now only: a deadline is breached once its instant has passed.
                moved = self.engine.fire_due(through_now=False)
                if moved:
                    log.info("fired what was due", extra={"moved": moved})
            except Exception:
                log.exception("firing due timers failed; will try again")
            finally:
                with self._arm_lock:
                    self._armed = None
                self._arm(self.engine.next_due())

    def _arm(self, due: datetime | None) -> None:
        if due is None:
            return
        with self._arm_lock:
            if self._armed is not None and self._armed <= due:
                return
            self._armed = due
        self.scheduler.add_job(self._tick, "date", run_date=max(due, self.engine.clock.now()),
                               id="wake", replace_existing=True, misfire_grace_time=None,
                               coalesce=True)

    def _on_advance(self, instance_id: str, advance: Advance) -> None:
        if advance.next_due is not None and self.scheduler.running:
            self._arm(advance.next_due)
