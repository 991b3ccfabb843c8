"""Contacts per second while the mail server is silent. Run:
.venv/bin/python bench/bench_silent_smtp.py [--postgresql | --database URL] [--seconds N]
    [--blocks B]

A "silent" SMTP server accepts the TCP connection and never answers (a hung relay, a
firewall that drops replies). While the mailer waits on it to deliver a notification,
contacts keep arriving through the engine (SQLite by default). The figure is contacts
accepted per second while the mailer waits, as a ratio of the same load with no mailer,
in interleaved blocks of the same run. Mail delivery must not hold the database: the ratio
should be close to 1 (before issue 15, on SQLite, it was about 0.01). Runs on the code of
the checkout it is in, the mailer before issue 15 included (for the "before" figure).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from engine.clock import SystemClock  # noqa: E402
from engine.outbox import Mailer, Outbox  # noqa: E402
from engine.registry import StepWrites  # noqa: E402
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


def mailer_for(store: Store, url: str, timeout: float) -> Mailer:
    try:
        return Mailer(store, SystemClock(), url, connect_timeout=timeout, send_timeout=timeout)
    except TypeError:  # the mailer before issue 15 (a fixed 10 s timeout): for the "before"
        return Mailer(store, SystemClock(), url)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="default: a temporary SQLite file")
    parser.add_argument("--postgresql", action="store_true",
                        help="on a throwaway PostgreSQL server (tests/support/postgres.py)")
    parser.add_argument("--seconds", type=float, default=5.0, help="each block (default 5)")
    parser.add_argument("--blocks", type=int, default=4, help="blocks of each kind (default 4)")
    args = parser.parse_args()
    if args.postgresql:
        from tests.support import postgres

        with postgres.server(durable=True) as server:
            return run(server.new_database(), args.seconds, args.blocks)
    folder = Path(tempfile.mkdtemp(prefix="mash-bench-"))
    return run(args.database or f"sqlite:///{folder / 'bench.sqlite'}", args.seconds, args.blocks)


def run(url: str, seconds: float, blocks: int) -> int:
    """Blocks of contacts with no mailer and with a mailer stuck on the silent server,
    interleaved (the machine is shared and noisy); the medians compared."""
    store = Store(url)
    store.create()
    engine = Engine(store, SystemClock(), PROCESSES)
    engine.deploy()
    engine.start("first_response", dict(CONTACT), "bench")  # warm the caches
    silent = SilentServer()
    queue_mail(store, 200)
    baseline, stuck = [], []
    for _ in range(blocks):
        baseline.append(contacts_per_second(engine, seconds))
        mailer = mailer_for(store, f"smtp://127.0.0.1:{silent.port}", seconds)
        sender = threading.Thread(target=mailer.send_pending, daemon=True)
        sender.start()
        time.sleep(0.2)  # it has claimed a notification and waits for the greeting
        stuck.append(contacts_per_second(engine, seconds))
        sender.join(timeout=15)
    silent.close()
    store.dispose()
    ratio = statistics.median(stuck) / statistics.median(baseline)
    print(f"{url.split(':')[0]}: contacts/s, no mailer: {statistics.median(baseline):.1f}; "
          f"with a mailer on a silent SMTP server: {statistics.median(stuck):.1f}; "
          f"ratio {ratio:.2f}")
    return 0 if ratio > 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
