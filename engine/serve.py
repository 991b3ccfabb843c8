"""`mash serve`: the engine as a long-lived service (the wiring: the one place the parts are
chosen). HTTP API, a scheduler that wakes timers, a mailer that empties the outbox and raises the
alarm for what it cannot deliver.

Stops cleanly on SIGTERM (uvicorn finishes the requests in flight, then the scheduler and
the mailer stop); whatever was due while it was down fires when it starts again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from . import incidents
from .api.app import create_app
from .clock import Clock, SystemClock, VirtualClock
from .outbox import Mailer
from .reports import reader as reports
from .retention import daily as daily_retention
from .scheduler import Wakeup
from .schema import refresh_statistics
from .service import Engine
from .store import Store

log = logging.getLogger("mash.serve")


class OutboxLoop:
    """A background thread: each round sends what the outbox holds (when a mail server is
    configured) and raises the alarm for notifications undelivered too long."""

    def __init__(self, store: Store, clock: Clock, mailer: Mailer | None,
                 settings: incidents.Settings, seconds: float = 2.0) -> None:
        self.store = store
        self.clock = clock
        self.mailer = mailer
        self.settings = settings
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)  # a send still waiting is left: its lease expires

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.mailer is not None:
                    self.mailer.send_pending()
                incidents.raise_alarms(self.store, self.clock, self.settings)
            except Exception:
                log.exception("sending notifications failed; will try again")
            self._stop.wait(self.seconds)


def build(processes: Path, database_url: str, virtual_start: datetime | None = None,
          smtp_url: str | None = None, deploy: bool | None = None) -> tuple[FastAPI, Engine]:
    """The service's parts. `deploy`: deploy `processes` first (None: only when nothing is
    deployed yet, so a fresh clone serves out of the box and a restart never deploys a local
    edit by surprise: `mash deploy` does that, and the running service takes it up)."""
    store = Store(database_url)
    store.create()
    refresh_statistics(store.engine)  # issue 20: plans stay flat as the database grows
    clock: Clock = VirtualClock(virtual_start) if virtual_start else SystemClock()
    engine = Engine(store, clock, processes)
    if deploy or (deploy is None and not engine.deployments.anything_deployed()):
        from .checking import deploy as checked_deploy

        _, warnings = checked_deploy(engine)  # what `mash deploy` checks, the dry run included
        for warning in warnings:
            log.warning("deploy: %s", warning)
    from .web import routes as web_routes

    parts: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not virtual_start:
            parts["wakeup"] = Wakeup(engine)
            parts["wakeup"].start()  # fires at once what fell due while the service was down
            parts["retention"] = daily_retention(engine)  # engine/retention.py, once a day
            reports.warm(engine)  # the heat maps' closed days, before a manager asks
        else:  # the virtual clock starts where it was told: what is due by then fires now
            engine.run_until(engine.clock.now())
        if not smtp_url:
            log.warning("no mail server (MASH_SMTP_URL): notifications stay in the outbox and "
                        "become incidents")
        parts["outbox"] = OutboxLoop(store, clock, Mailer(store, clock, smtp_url)
                                     if smtp_url else None, incidents.Settings.from_environment())
        parts["outbox"].start()
        log.info("mash is serving", extra={"processes": str(processes),
                                           "virtual_clock": bool(virtual_start)})
        yield
        for name in ("wakeup", "outbox", "retention"):
            if name in parts:
                parts[name].stop()
        store.dispose()
        log.info("mash stopped")

    app = create_app(engine, virtual_clock=bool(virtual_start), extra_routes=web_routes)
    app.router.lifespan_context = lifespan
    return app, engine


def serve(processes: Path, database_url: str, host: str, port: int,
          virtual_start: datetime | None = None, deploy: bool | None = None) -> None:
    import uvicorn

    from .collector import settle
    from .logs import configure

    configure(os.environ.get("MASH_LOG_LEVEL", "INFO"))
    app, _ = build(processes, database_url, virtual_start, os.environ.get("MASH_SMTP_URL"),
                   deploy)
    settle()  # engine/collector.py: the diagrams are loaded; this process is the engine now
    # uvicorn finishes in-flight requests and our shutdown on SIGTERM, then raises the
    # signal again for the handler that was there before it: make that a clean exit (0).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=True,
                timeout_graceful_shutdown=20)
