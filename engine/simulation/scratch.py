"""The simulation's own database: a temporary SQLite file nobody reads after the run but the
report, so nothing in it needs to survive a crash or be seen by another process.

It skips what only durability pays for: one connection holds one transaction for the whole
run (no commit, no write-ahead log to append to and checkpoint, per command), each unit of
work is a savepoint in it, so a command that fails still rolls back only itself, as in the
service, and the report reads everything written so far on the same connection. The journal
is kept in memory and nothing is synced to disk (a crash loses a run, which is rerun).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store import Store


class ScratchStore(Store):
    def __init__(self, url: str) -> None:
        super().__init__(url, synchronous="OFF")

        @sa.event.listens_for(self.engine, "connect")
        def _scratch(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # Set after Store's own pragmas: no write-ahead log for a file no one else opens.
            cursor.execute("PRAGMA journal_mode=MEMORY")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
            self._conn.begin()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        conn = self._connection()
        with conn.begin_nested():
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        yield self._connection()

    def commit(self) -> None:
        """Commit what the run wrote so far (the transaction goes on)."""
        if self._conn is not None:
            self._conn.commit()
            self._conn.begin()

    def dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        super().dispose()
