"""The real service on loopback: uvicorn serving the API in a thread, a virtual clock, the
real diagrams, a database of each kind (SQLite file and PostgreSQL)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn

from engine.api.auth import create_token
from engine.clock import as_utc
from engine.serve import build
from engine.service import Engine
from tests.pathways.harness import PROCESSES

START = "2026-11-23T09:00:00+00:00"  # Monday 09:00 London (GMT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    url: str
    engine: Engine
    tokens: dict[str, str]

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client(who) as client:
            return client.request(method, path, **kwargs)


ROLES = {
    "admin": ["admin"],
    "bsio": ["Business Support Information Officer"],
    "bso": ["Business Support Officer"],
    "manager": ["MASH Team Manager / Early Help Decision Maker"],
    "atm": ["Pod Assistant Team Manager"],
    "social_worker": ["MASH Social Worker"],
    "early_help": ["Early Help Hub"],
    "stage1": ["Line / team manager"],
    "professional": ["Professional raising the disagreement"],
}


@pytest.fixture
def service(database_url: str) -> Iterator[Service]:
    app, engine = build(PROCESSES, database_url, as_utc(datetime.fromisoformat(START)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    tokens = {who: create_token(engine.store, who, roles, engine.clock.now())
              for who, roles in ROLES.items()}
    yield Service(f"http://127.0.0.1:{port}", engine, tokens)
    server.should_exit = True
    thread.join(timeout=20)
