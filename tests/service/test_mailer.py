"""The outbox and the mailer: notifications go out by SMTP after their step commits, once
each, with a stable Message-ID; an SMTP server that is down delays them, loses none, and is
retried for as long as it takes; one undelivered too long is an incident with an alarm; a
silent mail server holds no database lock; two mailers never send one twice."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
import socket
import statistics
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from engine import incidents
from engine.clock import VirtualClock
from engine.outbox import Mailer, Outbox
from engine.registry import StepWrites
from engine.service import Engine
from engine.store import Store, notifications
from tests.service.conftest import free_port
from tests.service.smtp import Inbox, SmtpServer


def queue(store: Store, clock: VirtualClock, count: int) -> list[str]:
    with store.transaction() as conn:
        writes = StepWrites(conn)
        ids = [Outbox(writes, clock).send("nfa_to_referrer", f"r{i}@school.invalid",
                                          "Your contact", f"Body {i}", None)
               for i in range(count)]
        writes.finish(ok=True)
    return ids


def test_notifications_are_sent_once_with_their_message_id(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    ids = queue(store, clock, 3)
    with SmtpServer(free_port()) as smtp:
        mailer = Mailer(store, clock, smtp.url)
        assert mailer.send_pending() == 3
        assert mailer.send_pending() == 0  # nothing twice
        received = smtp.inbox.received()
    assert sorted(m["Message-ID"] for m in received) == sorted(f"<{i}@mash.invalid>" for i in ids)
    assert {m["X-Mash-Kind"] for m in received} == {"nfa_to_referrer"}
    assert sorted(m["To"] for m in received) == [f"r{i}@school.invalid" for i in range(3)]
    with store.reading() as conn:
        sent = conn.execute(sa.select(notifications.c.sent_at)).scalars().all()
    assert sent == [clock.now()] * 3
    store.dispose()


def test_an_smtp_server_that_is_down_delays_but_loses_nothing(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    [notification] = queue(store, clock, 1)
    port = free_port()
    mailer = Mailer(store, clock, f"smtp://127.0.0.1:{port}")
    assert mailer.send_pending() == 0  # nobody listening
    with store.reading() as conn:
        row = conn.execute(sa.select(notifications)).one()
    assert row.sent_at is None and row.attempts == 1 and "ConnectionRefused" in row.last_error
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)  # back-off
    with SmtpServer(port) as smtp:
        assert mailer.send_pending() == 0  # not before its next attempt
        clock.advance(timedelta(seconds=30))
        assert mailer.send_pending() == 1
        assert [m["Message-ID"] for m in smtp.inbox.received()] == [f"<{notification}@mash.invalid>"]
    store.dispose()


def test_a_bad_smtp_url_is_named() -> None:
    with pytest.raises(ValueError, match="write smtp://HOST:PORT"):
        Mailer(Store("sqlite://"), VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), "mail.example")


# -- 15.1: never given up; an incident people see, and an alarm by another route ------------


class Webhook:
    """A real HTTP endpoint on loopback that keeps the alarms posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alarm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_police_notification_is_retried_for_days_and_becomes_an_incident_with_an_alarm(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    with store.transaction() as conn:
        writes = StepWrites(conn)
        police = Outbox(writes, clock).send("police_notification", "police@police.invalid",
                                            "Crime suspected", "body", None)
        writes.finish(ok=True)
    port = free_port()  # the mail server is down: nothing listens there
    webhook = Webhook()
    settings = incidents.Settings(webhook=webhook.url)
    mailer = Mailer(store, clock, f"smtp://127.0.0.1:{port}", connect_timeout=2)
    tries: list[datetime] = []
    alarms = 0
    try:
        with caplog.at_level(logging.ERROR, logger="mash.incidents"):
            while clock.now() < datetime(2026, 11, 25, 9, tzinfo=UTC):  # a two-day outage
                assert mailer.send_pending() == 0
                row = notification(store, police)
                if row.attempts > len(tries):
                    tries.append(clock.now())
                alarms += incidents.raise_alarms(store, clock, settings)
                if clock.now() == datetime(2026, 11, 23, 9, 6, tzinfo=UTC):
                    with store.reading() as conn:  # five minutes for a police notification
                        [shown] = incidents.listed(conn, clock.now(), settings)
                    assert shown["id"] == police and shown["attempts"] == 4
                    assert "police notification not delivered for 6 min: the mail server " \
                           "refused the connection" in shown["error"]
                    with store.reading() as conn:
                        lines = incidents.metric_lines(conn, clock.now(), settings)
                    assert "mash_notification_incidents 1" in lines
                    assert 'mash_notifications_undelivered{kind="police_notification"} 1' in lines
                    assert 'mash_notifications_undelivered_oldest_seconds{kind=' \
                           '"police_notification"} 360' in lines
                if clock.now() < datetime(2026, 11, 23, 9, 10, tzinfo=UTC):
                    clock.advance(timedelta(minutes=1))
                else:  # on to the next try or reminder
                    row = notification(store, police)
                    clock.set(min(row.next_attempt_at, row.alarm_at + settings.remind_every))
        # Retried all along, at most 15 minutes apart; the old mailer gave up after 10 tries.
        gaps = [b - a for a, b in itertools.pairwise(tries)]
        assert len(tries) > 150 and max(gaps) == timedelta(minutes=15)
        assert gaps[:4] == [timedelta(minutes=1)] * 2 + [timedelta(minutes=2), timedelta(minutes=4)]
        # The alarm went at 5 minutes, then every hour, by a log line and the webhook.
        assert alarms == 48 and len(webhook.received) == 48
        first = webhook.received[0]
        assert (first["alarm"], first["notification"], first["kind"], first["minutes"]) == (
            "notification_undelivered", police, "police_notification", 5)
        assert "police@" not in json.dumps(webhook.received)  # ids only, no addresses
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 48 and all(police in r.getMessage() for r in errors)
        # The mail server and the service come back: it goes at its next try.
        with SmtpServer(port) as smtp:
            restarted = Mailer(store, clock, f"smtp://127.0.0.1:{port}")
            waited = timedelta(0)
            while restarted.send_pending() == 0:
                clock.advance(timedelta(minutes=1))
                waited += timedelta(minutes=1)
            assert waited <= timedelta(minutes=15)
            assert [m["Message-ID"] for m in smtp.inbox.received()] == [f"<{police}@mash.invalid>"]
        with store.reading() as conn:
            assert incidents.listed(conn, clock.now(), settings) == []
    finally:
        webhook.close()
        store.dispose()


def test_when_the_mail_server_is_back_everything_waiting_goes_at_once(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    ids = queue(store, clock, 5)
    port = free_port()
    mailer = Mailer(store, clock, f"smtp://127.0.0.1:{port}", connect_timeout=2)
    for _ in range(30):  # half an hour of outage: each notification tried and backing off
        mailer.send_pending()
        clock.advance(timedelta(minutes=1))
    assert all(notification(store, i).next_attempt_at > clock.now() for i in ids[1:])
    with SmtpServer(port) as smtp:
        clock.set(max(notification(store, i).next_attempt_at for i in ids))
        assert mailer.send_pending() == 5  # the first success releases the rest
        assert len(smtp.inbox.received()) == 5
    store.dispose()


# -- 15.2: no database lock while sending; connect and send timeouts ------------------------


class SilentServer:
    """Accepts TCP connections and never says a word (a hung relay)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"smtp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_silent_mail_server_holds_no_database_lock_and_times_out(
        database_url: str, tmp_path: Path) -> None:
    from tests.engine.conftest import DIAGRAMS

    folder = tmp_path / "processes"
    folder.mkdir()
    shutil.copy(DIAGRAMS / "review.bpmn", folder)
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    engine = Engine(store, clock, folder)
    engine.deploy()
    queue(store, clock, 3)
    silent = SilentServer()
    mailer = Mailer(store, clock, silent.url, connect_timeout=5, send_timeout=5)
    took: list[float] = []
    worker = threading.Thread(target=lambda: took.append(_timed(mailer.send_pending)))
    worker.start()
    time.sleep(0.5)  # the mailer is waiting for the silent server's greeting
    starts = []
    while worker.is_alive():
        starts.append(_timed(lambda: engine.start("review", {}, "tester")))
    worker.join()
    silent.close()
    assert 4.5 < took[0] < 10  # the connect timeout, not for ever (and one try: the rest wait)
    # Nobody waited for the mail server: before, each start waited the whole timeout (one
    # or two starts while the mailer waited); now they go on at the engine's own pace.
    assert len(starts) >= 20 and max(starts) < 4.5 and statistics.median(starts) < 0.5, starts
    [row] = [r for r in map(lambda i: notification(store, i), queue_ids(store)) if r.attempts]
    assert row.sent_at is None and row.attempts == 1 and row.claimed_until is None
    assert "timed out" in row.last_error or "Timeout" in row.last_error
    store.dispose()


def _timed(action: Any) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


# -- two services: one notification is never sent twice at the same time ------------------


class SlowInbox(Inbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def test_two_mailers_on_one_database_send_each_notification_once(database_url: str) -> None:
    stores = [Store(database_url), Store(database_url)]
    stores[0].create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    ids = queue(stores[0], clock, 40)
    port = free_port()
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailers = [Mailer(s, clock, f"smtp://127.0.0.1:{port}") for s in stores]
        threads = [threading.Thread(target=m.send_pending) for m in mailers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        controller.stop()
    received = Counter(m["Message-ID"] for m in inbox.received())
    assert received == Counter(f"<{i}@mash.invalid>" for i in ids)  # all, each once
    with stores[0].reading() as conn:
        by = Counter(conn.execute(sa.select(notifications.c.attempts)).scalars())
    assert by == Counter({1: 40})
    for store in stores:
        store.dispose()


def test_a_mailer_that_died_sending_leaves_it_to_another_once_its_lease_runs_out(
        database_url: str) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    [notification_id] = queue(store, clock, 1)
    dead = Mailer(store, clock, "smtp://127.0.0.1:25")
    assert dead._claim() is not None  # claimed, then the process was killed mid-send
    with SmtpServer(free_port()) as smtp:
        other = Mailer(store, clock, smtp.url)
        assert other.send_pending() == 0  # still leased
        clock.advance(timedelta(minutes=2, seconds=1))
        assert other.send_pending() == 1
        assert [m["Message-ID"] for m in smtp.inbox.received()] == [
            f"<{notification_id}@mash.invalid>"]
    store.dispose()


def notification(store: Store, notification_id: str) -> Any:
    with store.reading() as conn:
        return conn.execute(sa.select(notifications)
                            .where(notifications.c.id == notification_id)).one()


def queue_ids(store: Store) -> list[str]:
    with store.reading() as conn:
        return list(conn.execute(sa.select(notifications.c.id)
                                 .order_by(notifications.c.created_at)).scalars())
