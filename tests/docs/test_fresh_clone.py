"""A new user has only a clone: the README's commands and the examples work in a fresh clone
of HEAD with nothing beside it. `./run serve` makes its own virtualenv, installs, deploys and
answers /healthz; the README's token and curl lines, run as written from the clone's root,
are accepted; every example is; the example scenario simulates.

It installs the package into the clone (a minute or so with pip's cache, which the suite's
own install has just filled), so it runs once per session, on committed work: commit first.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPOSITORY = Path(__file__).resolve().parents[2]
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def readme_line(pattern: str, flags: int = re.M) -> str:
    """A command of the README's, its continuation lines joined, its comment left off."""
    found = re.search(pattern, README, flags)
    assert found, f"README.md has no line like {pattern!r}"
    return re.sub(r"\s+#.*$", "", found.group(0).replace("\\\n", " "))


def test_a_fresh_clone_runs_the_readme_and_the_examples(tmp_path: Path) -> None:
    clone = tmp_path / "mash"
    subprocess.run(["git", "clone", "--quiet", str(REPOSITORY), str(clone)], check=True,
                   timeout=120)
    assert not (clone.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MASH_", "VIRTUAL_ENV", "PYTHONPATH"))}

    serve = readme_line(r"^\./run serve\b.*$")
    assert serve == "./run serve"
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    service = subprocess.Popen([*shlex.split(serve), "--port", str(port)], cwd=clone, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while True:
            assert service.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "./run serve never answered /healthz"
            time.sleep(1)

        token_line = readme_line(r"^\.venv/bin/mash token create .*?$")
        made = subprocess.run(shlex.split(token_line), cwd=clone, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        token = made.stdout.strip().splitlines()[-1]
        curl = readme_line(r"^curl .*?/contacts$", re.M | re.S)
        curl = curl.replace("TOKEN", token).replace("http://127.0.0.1:8080", url)
        posted = subprocess.run(shlex.split(curl), cwd=clone, env=env, capture_output=True,
                                text=True, timeout=60, check=True)
        assert {"id", "received_at"} <= set(json.loads(posted.stdout)), posted.stdout

        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        examples = sorted((clone / "examples").glob("contact-*.json"))
        assert len(examples) >= 5
        for path in examples:
            answer = httpx.post(f"{url}/contacts", content=path.read_bytes(), headers=headers)
            assert answer.status_code == 201, (path.name, answer.text)
        answer = httpx.post(f"{url}/disagreements", headers=headers,
                            content=(clone / "examples" / "disagreement.json").read_bytes())
        assert answer.status_code == 201, answer.text
        assert httpx.get(f"{url}/docs").status_code == 200
    finally:
        os.killpg(service.pid, signal.SIGTERM)  # the group this test started, and no other
        service.wait(timeout=60)
        log.close()
    assert service.returncode == 0  # a clean stop on SIGTERM

    simulated = subprocess.run([".venv/bin/mash", "simulate", "examples/scenario.json", "--json"],
                               cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert simulated.returncode == 0, simulated.stderr
    assert len(json.loads(simulated.stdout)["contacts"]) == len(examples)
