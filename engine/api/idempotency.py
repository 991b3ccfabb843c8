"""`Idempotency-Key`: a client that lost its connection retries safely.

A key belongs to one token and is bound to the call it was first used for: the method, the
path (so the task or resource it names) and a hash of the body. A repeat of that call answers
what the first answered and changes nothing; the same key on another call, or with another
body, is refused (422) rather than answered with someone else's result.

The record is written in the same transaction as the work it answers for (`remember`), so a
key is never stored without its effect, nor the effect without its key; two requests racing
with one key meet at the table's primary key and the loser answers the winner's result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Connection

from ..runtime import Advance
from ..store import Store, idempotency

MAX_KEY = 200
HEADER = "Idempotency-Key"


class KeyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def body_hash(body: Any) -> str:
    """The body's canonical JSON (keys sorted, ASCII), hashed."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Call:
    """One call made with a key: who, what and with which body."""

    token_id: int
    key: str | None
    method: str
    path: str
    body: Any

    def replay(self, store: Store) -> JSONResponse | None:
        """The first answer if this call was made before with the key; None if the key is
        new (or there is none). A key used for another call or body is refused."""
        if not self.key:
            return None
        if len(self.key) > MAX_KEY:
            raise KeyRefused(400, f"is longer than {MAX_KEY} characters")
        with store.reading() as conn:
            row = conn.execute(sa.select(idempotency).where(
                idempotency.c.token_id == self.token_id, idempotency.c.key == self.key)).first()
        if row is None:
            return None
        # (a record from before keys were bound has no method: answered as before)
        if row.method is not None and (row.method, row.path) != (self.method, self.path):
            raise KeyRefused(422, f"was already used for {row.method} {row.path}; use a new "
                                  "key for each different call")
        if row.body_hash is not None and row.body_hash != body_hash(self.body):
            raise KeyRefused(422, "was already used with a different body; a retry must send "
                                  "the same body, a new request needs a new key")
        return JSONResponse(row.response, status_code=row.status, headers={"Cache-Control": "no-store"})

    def remember(self, status: int, response: Callable[[Advance], dict[str, Any]],
                 now: datetime) -> Callable[[Connection, Advance], None] | None:
        """The write to add to the command's transaction (None without a key)."""
        if not self.key:
            return None

        def write(conn: Connection, advance: Advance) -> None:
            conn.execute(idempotency.insert().values(
                token_id=self.token_id, key=self.key, status=status, response=response(advance),
                created_at=now, method=self.method, path=self.path,
                body_hash=body_hash(self.body)))
        return write
