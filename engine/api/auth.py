"""API tokens: random, shown once, stored only as a hash. A token carries roles (lane names,
plus `admin`); a request sees and completes only what its roles may.

A person's token expires (90 days by default, set at creation); an integration's (a case
management system, a portal) runs until it is revoked. Every token can be listed (never
the token itself: it is not kept) and revoked; a revoked or expired token is refused at
once, by the API and the pages alike.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..store import Store, tokens

ADMIN = "admin"
PERSON = "person"
INTEGRATION = "integration"
PERSON_DAYS = 90  # a person's token lasts this long unless told otherwise
LAST_USED_EVERY = timedelta(minutes=5)  # how stale "last used" may be: not a write per call


@dataclass(frozen=True)
class Caller:
    token_id: int
    name: str
    roles: frozenset[str]

    @property
    def admin(self) -> bool:
        return ADMIN in self.roles


class UnknownRole(ValueError):
    """A role that is no lane of the diagrams: says which roles there are."""

    def __init__(self, unknown: list[str], known: list[str]) -> None:
        verb = "is not a role" if len(unknown) == 1 else "are not roles"
        super().__init__(
            f"{', '.join(repr(r) for r in unknown)} {verb} of the diagrams; the roles are the "
            "lane names: "
            + "; ".join(known) + f"; and {ADMIN}")
        self.unknown = unknown
        self.known = known


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def lane_roles(processes: Path) -> list[str]:
    """The roles people can hold: the names of the lanes the diagrams draw tasks in."""
    from ..diagrams import load

    found = load([processes])
    return sorted({e.role for m in found.models.values() for e in m.elements.values() if e.role})


def check_roles(roles: Iterable[str], known: Iterable[str]) -> None:
    allowed = set(known) | {ADMIN}
    unknown = [r for r in roles if r not in allowed]
    if unknown:
        raise UnknownRole(unknown, sorted(set(known)))


def create_token(store: Store, name: str, roles: list[str], now: datetime, *,
                 expires_at: datetime | None = None, kind: str = PERSON) -> str:
    """A new token (shown once); `expires_at` None: until revoked."""
    if not roles:
        raise ValueError("a token needs at least one role")
    if kind not in (PERSON, INTEGRATION):
        raise ValueError(f"a token is for a {PERSON} or an {INTEGRATION}")
    token = "mash_" + secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute(tokens.insert().values(name=name, roles=sorted(set(roles)), hash=_hash(token),
                                            created_at=now, expires_at=expires_at, kind=kind))
    return token


def caller_for(store: Store, token: str, now: datetime | None = None) -> Caller | None:
    """The caller a token stands for, if it is valid at `now` (revoked never is; expired at
    or after its end). Notes when it was last used, at most every few minutes."""
    if not token or len(token) > 200:
        return None
    with store.reading() as conn:
        row = conn.execute(sa.select(tokens).where(tokens.c.hash == _hash(token),
                                                   tokens.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    if now is not None:
        if row.expires_at is not None and now >= row.expires_at:
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            with store.transaction() as conn:
                conn.execute(tokens.update().where(tokens.c.id == row.id)
                             .values(last_used_at=now))
    return Caller(row.id, row.name, frozenset(row.roles))


def token_by_id(store: Store, token_id: int, now: datetime) -> Caller | None:
    """The caller of a token still valid at `now` (a web session holds the id)."""
    with store.reading() as conn:
        row = conn.execute(sa.select(tokens).where(tokens.c.id == token_id,
                                                   tokens.c.revoked_at.is_(None))).first()
    if row is None or (row.expires_at is not None and now >= row.expires_at):
        return None
    return Caller(row.id, row.name, frozenset(row.roles))


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every token: id, name, kind, roles, created, expires, last used, revoked. Never the
    token (only its hash is kept) nor the hash."""
    with store.reading() as conn:
        rows = conn.execute(sa.select(tokens).order_by(tokens.c.id)).all()
    return [{"id": r.id, "name": r.name, "kind": r.kind or PERSON, "roles": list(r.roles),
             "created_at": r.created_at, "expires_at": r.expires_at,
             "last_used_at": r.last_used_at, "revoked_at": r.revoked_at} for r in rows]


def revoke_tokens(store: Store, now: datetime, *, token_id: int | None = None,
                  name: str | None = None) -> int:
    """Revoke by id or by name (every token of that name); returns how many were revoked
    now (0: none such, or already revoked)."""
    if (token_id is None) == (name is None):
        raise ValueError("revoke one token by id, or the tokens of one name")
    match = tokens.c.id == token_id if token_id is not None else tokens.c.name == name
    with store.transaction() as conn:
        revoked = conn.execute(tokens.update().where(match, tokens.c.revoked_at.is_(None))
                               .values(revoked_at=now)).rowcount
        from ..store import web_sessions

        ids = sa.select(tokens.c.id).where(match)
        conn.execute(web_sessions.delete().where(web_sessions.c.token_id.in_(ids)))
    return int(revoked)


def person_expiry(now: datetime, days: int | None = PERSON_DAYS) -> datetime | None:
    return None if days is None else now + timedelta(days=days)
