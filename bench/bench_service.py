"""Throughput and latency of the service's HTTP API, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_service.py [--contacts 300] [--clients 4]

For each database: the real service (uvicorn, the real diagrams) on loopback; `--clients`
threads submit contacts (POST /contacts), then complete the verification tasks they opened
(POST /tasks/{id}/complete). Prints requests per second and p50/p99 latency of each call.
PostgreSQL is a throwaway server of the machine's binaries, with fsync on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from engine.api.auth import create_token  # noqa: E402
from engine.serve import build  # noqa: E402
from tests.service.conftest import free_port  # noqa: E402
from tests.service.test_api import CONTACT  # noqa: E402
from tests.support import postgres  # noqa: E402

PROCESSES = HERE.parent / "processes"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def serve(url: str) -> tuple[Any, str, dict[str, str]]:
    app, engine = build(PROCESSES, url, datetime(2026, 11, 23, 9, tzinfo=UTC))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    tokens = {who: create_token(engine.store, who, [role], engine.clock.now()) for who, role in (
        ("bso", "Business Support Officer"), ("bsio", "Business Support Information Officer"))}
    return server, f"http://127.0.0.1:{port}", tokens


def run(label: str, url: str, contacts: int, clients: int) -> None:
    server, base, tokens = serve(url)
    local = threading.local()

    def client(who: str) -> httpx.Client:
        """One keep-alive client per thread and token, as a real integration holds one."""
        if not hasattr(local, who):
            setattr(local, who, httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60))
        return getattr(local, who)  # type: ignore[no-any-return]

    def submit(i: int) -> tuple[float, str]:
        started = time.perf_counter()
        answer = client("bso").post("/contacts", json=CONTACT,
                                    headers={"Idempotency-Key": f"k{i}"})
        assert answer.status_code == 201, answer.text
        return time.perf_counter() - started, answer.json()["id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        submitted = list(pool.map(submit, range(contacts)))
    submit_wall = time.perf_counter() - started
    tasks = [t["id"] for t in client("bsio").get("/tasks").json()]

    def complete(task_id: str) -> float:
        began = time.perf_counter()
        answer = client("bsio").post(f"/tasks/{task_id}/complete",
                                     json={"data": {"accepted": True}})
        assert answer.status_code == 200, answer.text
        return time.perf_counter() - began

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        completed = list(pool.map(complete, tasks))
    complete_wall = time.perf_counter() - started
    server.should_exit = True
    submit_ms = [s * 1000 for s, _ in submitted]
    complete_ms = [c * 1000 for c in completed]
    print(f"{label}: POST /contacts {contacts / submit_wall:6.1f}/s "
          f"(p50 {statistics.median(submit_ms):.0f} ms, p99 {percentile(submit_ms, .99):.0f} ms); "
          f"POST /tasks/{{id}}/complete {len(tasks) / complete_wall:6.1f}/s "
          f"(p50 {statistics.median(complete_ms):.0f} ms, p99 {percentile(complete_ms, .99):.0f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite    ", f"sqlite:///{folder}/bench.sqlite", args.contacts, args.clients)
    with postgres.server(durable=True) as server:
        run("PostgreSQL", server.new_database(), args.contacts, args.clients)
    return 0


if __name__ == "__main__":
    sys.exit(main())
