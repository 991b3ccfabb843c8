"""Group commit for SQLite: commands that arrive together share one transaction and one
fsync.

SQLite has one writer, and with `synchronous=FULL` each commit waits for the disk (about as
long as a command takes to run). Threads queue for the writer here; whoever holds it runs
its command in the transaction that is open (opening one if none is; each command after
the first in a SAVEPOINT), and commits it only when nobody else is queued (or the batch is
full). The others of the batch wait for that commit: `transaction()` returns, and the
caller answers "accepted", only once its work is on disk.

A command that fails while running rolls back its savepoint alone, and the batch so far is
committed before the failure reaches its caller (who may read to handle it). If the COMMIT
itself fails (a disk error, a deferred constraint), every command of the batch hears
`BatchFailed`, nothing of it is kept, and each can be run again on its own
(engine/service.py does), so one bad command does not take the others with it.

One client alone commits at the end of each command, as before: batching costs it nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy.engine import Connection, Engine

MOST_PER_BATCH = 64  # a bound on how long the first of a batch waits for the commit


class BatchFailed(RuntimeError):
    """The commit of a batch this command was in failed: nothing of the batch was kept, this
    command included. Run it again on its own (`GroupCommit.transaction(alone=True)`)."""


class _Batch:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        try:
            self.transaction = conn.begin()
        except BaseException:
            conn.close()
            raise
        self.size = 0
        self.done = threading.Event()
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, engine: Engine, most: int = MOST_PER_BATCH) -> None:
        self._engine = engine
        self._most = most
        self._writer = threading.Lock()  # threads queue here, in order, not in SQLite's
        self._counting = threading.Lock()  # busy handler (sleeps of up to 100 ms)
        self._queued = 0
        self._batch: _Batch | None = None
        self.commits = 0  # how many batches were committed (for tests and benchmarks)

    @contextmanager
    def transaction(self, alone: bool = False) -> Iterator[Connection]:
        """One unit of work; its changes are on disk when this returns. `alone`: in a
        transaction of its own (a command run again after its batch failed to commit)."""
        with self._counting:
            self._queued += 1
        self._writer.acquire()
        with self._counting:
            self._queued -= 1
        batch: _Batch | None = None
        failed = False
        try:
            if alone and self._batch is not None:
                self._end(self._batch)  # never mixed with others: commit theirs first
            if self._batch is None:
                self._batch = _Batch(self._engine.connect())
            batch = self._batch
            batch.size += 1
            if batch.size == 1:
                # The first of a batch needs no savepoint (statements in one cost SQLite a
                # sub-journal): if it fails, the transaction holds its work alone.
                try:
                    yield batch.conn
                except BaseException:
                    self._batch = None
                    try:
                        batch.transaction.rollback()
                    finally:
                        batch.conn.close()
                        batch.done.set()
                    batch = None
                    raise
            else:
                savepoint = batch.conn.begin_nested()
                try:
                    yield batch.conn
                except BaseException:
                    savepoint.rollback()
                    # The batch is committed before the failure is raised: whoever handles
                    # it reads what the commands before it did (a racing retry with the same
                    # idempotency key finds the first one's answer).
                    failed = True
                    raise
                savepoint.commit()
        finally:
            if batch is not None and (alone or failed or not self._others_queued()
                                      or batch.size >= self._most):
                self._end(batch)
            self._writer.release()
        batch.done.wait()
        if batch.error is not None:
            if alone:
                raise batch.error
            raise BatchFailed(f"the batch's commit failed: {batch.error.__class__.__name__}") \
                from batch.error

    def _others_queued(self) -> bool:
        with self._counting:
            return self._queued > 0

    def _end(self, batch: _Batch) -> None:
        """Commit the batch (the writer is held), and tell its commands."""
        self._batch = None
        try:
            batch.transaction.commit()
            self.commits += 1
        except BaseException as err:  # every command of the batch is told
            batch.error = err
            # SQLite leaves the transaction open when COMMIT fails (a deferred constraint):
            # the connection goes, never back to the pool with the batch's work in it.
            with suppress(Exception):
                batch.conn.invalidate()
        finally:
            batch.conn.close()
            batch.done.set()
