"""The real service for the page tests: `mash serve` in a subprocess on a virtual clock, its
tokens made with `mash token create`, and a few API calls to set the scene."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
MASH = Path(sys.executable).with_name("mash")
START = "2026-11-23T09:00:00Z"  # a Monday, 09:00 in London: the Hub is open


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    processes: Path
    database: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    def start(self, timeout: float = 60.0) -> Service:
        self.log = self.database.with_suffix(".log")
        env = {**os.environ, "MASH_LOG_LEVEL": "WARNING"}
        env.pop("MASH_DATABASE_URL", None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(MASH), "serve", "--virtual-clock", START, "--port", str(self.port),
                 "--processes", str(self.processes), "--database", self.database_url],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPOSITORY)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mash serve stopped: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mash serve did not answer /healthz in {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def token(self, *roles: str, name: str = "tester") -> str:
        command = [str(MASH), "token", "create", "--name", name, "--database", self.database_url]
        for role in roles:
            command += ["--role", role]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPOSITORY)
        return done.stdout.strip().splitlines()[-1]

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def contact(child_name: str, child_id: str, **more: Any) -> dict[str, Any]:
    """A phone contact from a school about a child in BCP, consent given."""
    return {
        "channel": "phone",
        "referrer": {"name": "Ann Teacher", "kind": "professional", "agency": "Oakdale School",
                     "email": "ann.teacher@school.test", "phone": "01202 000000"},
        "child": {"id": child_id, "name": child_name, "dob": "2015-03-02",
                  "postcode": "BH1 1AA", "address": "1 High Street, Bournemouth"},
        "concerns": "Bruising seen on the child's arms at school; the child said a parent did it.",
        "consent": "given",
        **more,
    }
