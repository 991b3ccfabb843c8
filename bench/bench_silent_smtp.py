"""Contacts per second while the mail server is silent. Run:
.venv/bin/python bench/bench_silent_smtp.py [--postgresql | --database URL] [--seconds N]

A "silent" SMTP server accepts the TCP connection and never answers (a hung relay, a
firewall that drops replies). The mailer keeps trying to deliver the notifications in the
outbox; contacts keep arriving through the engine (SQLite by default). The figure is contacts
accepted per second with the mailer running against the silent server, as a ratio of the
same load with no mailer at all, measured in the same run. Mail delivery must not hold the
database: the ratio should be close to 1.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from engine import incidents  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.outbox import Mailer, Outbox  # noqa: E402
from engine.registry import StepWrites  # noqa: E402
from engine.serve import OutboxLoop  # noqa: E402
from engine.service import Engine  # noqa: E402
from engine.store import Store  # noqa: E402
from tests.pathways.harness import CONTACT, PROCESSES  # noqa: E402


class SilentServer:
    """Accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def queue_mail(store: Store, count: int) -> None:
    with store.transaction() as conn:
        writes = StepWrites(conn)
        outbox = Outbox(writes, SystemClock())
        for i in range(count):
            outbox.send("police_notification", f"police{i}@police.invalid", "Crime suspected",
                        "body", None)
        writes.finish(ok=True)


def contacts_per_second(engine: Engine, seconds: float) -> float:
    started = time.monotonic()
    count = 0
    while time.monotonic() - started < seconds:
        engine.start("first_response", dict(CONTACT), "bench")
        count += 1
    return count / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="default: a temporary SQLite file")
    parser.add_argument("--postgresql", action="store_true",
                        help="on a throwaway PostgreSQL server (tests/support/postgres.py)")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.postgresql:
        from tests.support import postgres

        with postgres.server(durable=True) as server:
            return run(server.new_database(), args.seconds)
    folder = Path(tempfile.mkdtemp(prefix="mash-bench-"))
    return run(args.database or f"sqlite:///{folder / 'bench.sqlite'}", args.seconds)


def run(url: str, seconds: float) -> int:
    store = Store(url)
    store.create()
    engine = Engine(store, SystemClock(), PROCESSES)
    engine.deploy()
    engine.start("first_response", dict(CONTACT), "bench")  # warm the caches

    baseline = contacts_per_second(engine, seconds)

    silent = SilentServer()
    queue_mail(store, 200)
    clock = SystemClock()
    loop = OutboxLoop(store, clock, Mailer(store, clock, f"smtp://127.0.0.1:{silent.port}"),
                      incidents.Settings(), 0.1)
    loop.start()
    time.sleep(0.5)
    with_silent = contacts_per_second(engine, seconds)
    loop.stop()
    silent.close()
    store.dispose()
    ratio = with_silent / baseline
    print(f"{url.split(':')[0]}: contacts/s, no mailer: {baseline:.1f}; with a silent SMTP server: "
          f"{with_silent:.1f}; ratio {ratio:.2f}")
    return 0 if ratio > 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
