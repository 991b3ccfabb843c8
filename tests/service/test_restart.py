"""The service killed (SIGKILL) in the middle of a load of contacts and task completions,
then started again: every accepted contact is there, every completed task stays completed,
no notification is sent twice, and every deadline fires once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from engine.store import Store, deadlines, history, notifications
from tests.pathways.harness import PROCESSES
from tests.service.conftest import free_port
from tests.service.smtp import SmtpServer
from tests.service.test_api import CONTACT, a_child_of_its_own

MASH = [sys.executable, "-m", "engine.cli"]
MANAGER = "MASH Team Manager / Early Help Decision Maker"


class Running:
    def __init__(self, database_url: str, smtp_url: str, clock: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MASH_DATABASE_URL": database_url, "MASH_SMTP_URL": smtp_url,
               "MASH_PROCESSES": str(PROCESSES)}
        self.process = subprocess.Popen(
            [*MASH, "serve", "--port", str(self.port), "--virtual-clock", clock],
            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0


def token(database_url: str, role: str, name: str) -> str:
    out = subprocess.run([*MASH, "token", "create", "--role", role, "--name", name],
                         env={**os.environ, "MASH_DATABASE_URL": database_url},
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


class Load:
    """Clients that keep submitting contacts and completing tasks, retrying with the same
    Idempotency-Key after a lost connection, and remembering every success."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self.url = ""
        self.accepted: dict[str, str] = {}  # idempotency key -> instance id
        self.completed: set[str] = set()
        self.stop = threading.Event()
        self.born: dict[str, int] = {}  # each contact about a child of its own

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        try:
            return httpx.request(method, self.url + path, timeout=10,
                                 headers={"Authorization": f"Bearer {self.tokens[who]}",
                                          **kwargs.pop("headers", {})}, **kwargs)
        except httpx.HTTPError:
            return None

    def submit(self, key: str) -> bool:
        born = self.born.setdefault(key, len(self.born))  # a retry names the same child
        body = {**CONTACT, "child": a_child_of_its_own(born)}
        answer = self.call("bso", "POST", "/contacts", json=body,
                           headers={"Idempotency-Key": key})
        if answer is not None and answer.status_code == 201:
            self.accepted[key] = answer.json()["id"]
            return True
        return False

    def complete_some(self) -> None:
        """One task of each role for every three contacts: a backlog grows, so at the kill
        some contacts are decided and some are still waiting for their decision."""
        for who, values in (("bsio", {"accepted": False}), ("manager", {"nfa_confirmed": True})):
            answer = self.call(who, "GET", "/tasks")
            if answer is None or answer.status_code != 200:
                return
            for task in answer.json()[:1]:
                done = self.call(who, "POST", f"/tasks/{task['id']}/complete",
                                 json={"data": values}, headers={"Idempotency-Key": task["id"]})
                if done is not None and done.status_code == 200:
                    self.completed.add(task["id"])

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            key = f"contact-{n}"
            while not self.submit(key) and not self.stop.is_set():
                time.sleep(0.05)
            n += 1
            if n % 3 == 0:
                self.complete_some()


def test_a_killed_service_loses_nothing_and_repeats_nothing(
        database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    tokens = {"bso": token(database_url, "Business Support Officer", "bso"),
              "bsio": token(database_url, "Business Support Information Officer", "bsio"),
              "manager": token(database_url, MANAGER, "manager"),
              "admin": token(database_url, "admin", "admin")}
    with SmtpServer(free_port()) as smtp:
        load = Load(tokens)
        service = Running(database_url, smtp.url, "2026-11-23T09:00:00Z", log)
        load.url = service.url
        worker = threading.Thread(target=load.run)
        worker.start()
        time.sleep(random.uniform(4, 7))
        service.kill()  # in the middle of whatever it was doing
        accepted_before_kill = dict(load.accepted)
        completed_before_kill = set(load.completed)
        # Two days later; the decision deadlines (Tue 24 Nov 17:15) fell due while it was down.
        service = Running(database_url, smtp.url, "2026-11-25T09:00:00Z", log)
        load.url = service.url
        time.sleep(2)
        load.stop.set()
        worker.join(timeout=60)
        assert len(accepted_before_kill) > 5, "the load did too little before the kill"

        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for instance_id in load.accepted.values():
            seen = httpx.get(f"{service.url}/instances/{instance_id}", headers=admin)
            assert seen.status_code == 200
        assert len(set(load.accepted.values())) == len(load.accepted)  # no key made two contacts
        for task_id in load.completed:
            task = httpx.get(f"{service.url}/tasks/{task_id}", headers=admin).json()
            assert task["status"] == "completed", task
        assert completed_before_kill <= load.completed

        store = Store(database_url)
        waited = time.monotonic()
        while True:  # the mailer empties the outbox
            with store.reading() as conn:
                unsent = conn.execute(sa.select(sa.func.count()).select_from(notifications)
                                      .where(notifications.c.sent_at.is_(None))).scalar()
            if unsent == 0 or time.monotonic() - waited > 60:
                break
            time.sleep(0.5)
        service.stop()
        # Started again at the same instant: nothing fires a second time.
        service = Running(database_url, smtp.url, "2026-11-25T09:00:00Z", log)
        time.sleep(3)
        service.stop()

        with store.reading() as conn:
            sent = conn.execute(sa.select(notifications.c.id, notifications.c.kind)).all()
            rows = conn.execute(sa.select(deadlines)).all()
            breaches = Counter(r.instance_id for r in conn.execute(
                sa.select(history.c.instance_id).where(history.c.action == "deadline_breached")))
        store.dispose()
        received = Counter(m["Message-ID"] for m in smtp.inbox.received())
        assert unsent == 0
        assert max(received.values()) == 1, "a notification was sent twice"
        assert set(received) == {f"<{n.id}@mash.invalid>" for n in sent}
        assert any(n.kind == "nfa_to_referrer" for n in sent)
        decision = [r for r in rows if r.name == "decision"]
        assert len(decision) == len(load.accepted)
        for row in decision:
            if row.met is False:
                assert breaches[row.instance_id] == 1
                assert row.breached_at is not None
            else:  # done in time, or still open (arrived after the restart)
                assert row.met in (True, None) and breaches[row.instance_id] == 0
        breach_mails = sum(1 for n in sent if n.kind == "deadline_breach")
        assert breach_mails == sum(1 for r in decision if r.met is False) > 0
