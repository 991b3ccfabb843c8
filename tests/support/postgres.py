"""A throwaway PostgreSQL server for the tests: its own data folder and port, gone after.

Uses the server binaries of the machine (Debian's `postgresql` package; `.ci/run` installs
it). Missing binaries fail the run with what to install: a test suite that silently skips
PostgreSQL would hide exactly the bugs it is there to find.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


def _binaries() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install -y postgresql "
                       "(or put pg_ctl on PATH); .ci/run does this")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root; run them as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class Server:
    """`durable=False` (the tests) turns off fsync for speed; a benchmark keeps it on."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="mash-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    def start(self) -> None:
        subprocess.run(_as_server_user([str(self.bin / "initdb"), "-D", str(self.data),
                                        "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                        "--no-sync"]),
                       check=True, capture_output=True)
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(_as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data),
                                        "-o", options, "-l", str(self.root / "log"),
                                        "-w", "start"]),
                       check=True, capture_output=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        name = f"mash_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data),
                                        "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def server(durable: bool = False) -> Iterator[Server]:
    running = Server(durable)
    running.start()
    try:
        yield running
    finally:
        running.stop()
