"""Group commit on SQLite (engine/group_commit.py, issue 20 goal 2): commands that arrive
together share one transaction and one fsync; each caller hears "accepted" only once its
work is committed; a command that fails rolls back only itself; a batch whose commit fails
runs each of its commands again on its own, so only the bad one fails."""

from __future__ import annotations

import copy
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.clock import VirtualClock
from engine.group_commit import BatchFailed
from engine.service import Engine
from engine.store import Store, instance_deltas, meta
from tests.pathways.harness import CONTACT, PROCESSES

START = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _run_together(count: int, work: Any) -> list[Any]:
    """`work(n)` on `count` threads released together; each one's result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = work(n)
        except Exception as err:  # the finding: what each caller heard
            results[n] = err

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_contacts_arriving_together_share_commits_and_each_is_stored_before_it_is_answered(
        tmp_path: Path) -> None:
    path = tmp_path / "mash.sqlite"
    store = Store(f"sqlite:///{path}", synchronous="FULL")
    store.create()
    engine = Engine(store, VirtualClock(START), PROCESSES)
    engine.deploy()
    assert store.group is not None
    before = store.group.commits

    def contact(n: int) -> bool:
        data = copy.deepcopy(CONTACT)
        data["child"] = {**data["child"], "name": f"Child {n}", "dob": f"2015-01-{n + 1:02d}"}
        instance_id, _ = engine.start("first_response", data, "tester")
        # Answered: another connection (another process, after a crash) sees it already.
        with sqlite3.connect(path) as other:
            found = other.execute("SELECT 1 FROM instances WHERE id = ?", (instance_id,))
            return found.fetchone() is not None

    answered = _run_together(16, contact)
    assert answered == [True] * 16
    commits = store.group.commits - before
    assert 1 <= commits < 16  # shared: fewer commits (and fsyncs) than contacts
    with store.reading() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM instances WHERE process_id = "
                                    "'first_response'")).scalar() == 16
    store.dispose()


def _slow_first(n: int) -> None:
    """The first thread holds the writer a moment, so the others queue behind it and the
    whole group lands in one batch."""
    if n == 0:
        time.sleep(0.3)
    else:
        time.sleep(0.05 * n)


def test_a_command_that_fails_rolls_back_only_itself(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'mash.sqlite'}")
    store.create()
    assert store.group is not None
    before = store.group.commits

    def keys() -> list[str]:
        with store.reading() as conn:  # another connection: what is committed
            return sorted(r[0] for r in conn.execute(sa.select(meta.c.key)
                                                     .where(meta.c.key.like("k%"))))

    def work(n: int) -> str | list[str]:
        if n != 0:
            time.sleep(0.05 * n)  # queue behind the first, which holds the writer
        try:
            with store.transaction() as conn:
                if n == 0:
                    time.sleep(0.3)
                conn.execute(meta.insert().values(key=f"k{n}", value=str(n)))
                if n == 2:
                    raise ValueError("this command fails")
        except ValueError:
            return keys()  # what its caller reads as it handles the failure
        return "ok"

    results = _run_together(4, work)
    # The others were answered and kept; the failing command's row is not. Its caller heard
    # the failure with the batch before it committed (a racing retry of one idempotency key
    # finds the first answer there): at least the first command, which held the writer
    # while the others queued. (Which of the queued ones ran before it is the lock's
    # choice.)
    assert [results[0], results[1], results[3]] == ["ok", "ok", "ok"]
    seen = results[2]
    assert isinstance(seen, list) and "k0" in seen and "k2" not in seen
    assert keys() == ["k0", "k1", "k3"]
    assert 1 <= store.group.commits - before <= 2  # shared: fewer commits than commands
    store.dispose()


def test_a_batch_whose_commit_fails_runs_each_command_again_on_its_own(tmp_path: Path) -> None:
    """A deferred foreign key is checked at COMMIT: one command's bad row fails the batch's
    commit; the engine runs each command again alone, and only that one fails."""
    store = Store(f"sqlite:///{tmp_path / 'mash.sqlite'}")
    store.create()
    engine = Engine(store, VirtualClock(START), PROCESSES)
    heard: list[int] = []

    def work(n: int) -> str:
        if n != 0:
            time.sleep(0.05 * n)

        def unit(conn: sa.Connection) -> str:
            heard.append(n)
            if n == 0:
                time.sleep(0.3)
            if n == 1:  # a delta for an instance that does not exist: refused at COMMIT
                conn.execute(instance_deltas.insert().values(
                    instance_id="no-such-instance", seq=1, state=b"{}"))
            else:
                conn.execute(meta.insert().values(key=f"k{n}", value=str(n)))
            return "ok"

        return engine._unit(unit)

    results = _run_together(3, work)
    assert results[0] == "ok" and results[2] == "ok"
    assert isinstance(results[1], IntegrityError)
    assert sorted(heard) == [0, 0, 1, 1, 2, 2]  # each ran in the batch, then alone
    with store.reading() as conn:
        keys = sorted(r[0] for r in conn.execute(sa.select(meta.c.key)
                                                 .where(meta.c.key.like("k%"))))
        assert keys == ["k0", "k2"]
        assert conn.execute(sa.select(sa.func.count()).select_from(instance_deltas)).scalar() == 0
    store.dispose()


def test_alone_a_failed_commit_is_the_error_itself(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'mash.sqlite'}")
    store.create()
    bad = instance_deltas.insert().values(instance_id="none", seq=1, state=b"{}")
    with pytest.raises(IntegrityError), store.transaction(alone=True) as conn:
        conn.execute(bad)
    with pytest.raises(BatchFailed), store.transaction() as conn:  # in a batch (here of one)
        conn.execute(bad)
    store.dispose()
