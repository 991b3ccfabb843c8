"""API tokens: random, shown once, stored only as a hash. A token carries roles (lane names,
plus `admin`); a request sees and completes only what its roles may."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..store import Store, tokens

ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    token_id: int
    name: str
    roles: frozenset[str]

    @property
    def admin(self) -> bool:
        return ADMIN in self.roles


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(store: Store, name: str, roles: list[str], now: datetime) -> str:
    if not roles:
        raise ValueError("a token needs at least one role")
    token = "mash_" + secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute(tokens.insert().values(name=name, roles=sorted(set(roles)), hash=_hash(token),
                                            created_at=now))
    return token


def caller_for(store: Store, token: str) -> Caller | None:
    if not token or len(token) > 200:
        return None
    with store.reading() as conn:
        row = conn.execute(sa.select(tokens).where(tokens.c.hash == _hash(token),
                                                   tokens.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    return Caller(row.id, row.name, frozenset(row.roles))
