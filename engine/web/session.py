"""Signing in to the pages: a person pastes their API token once; the service checks it and
opens a session of its own. The cookie holds only the session's random id (HttpOnly,
SameSite=Strict, Secure over https), never the token; the database keeps the id's hash, the
token it stands for and the session's form token (`csrf`).

A session ends when the person signs out (its row is deleted, so the cookie is worthless
even if copied), after 30 minutes without a page, after 12 hours whatever happens, and when
its token is revoked or expires. Time is the engine's clock, as everywhere.

Every form that changes something carries the session's `csrf` token, a second lock beside
SameSite=Strict; the sign-in form, before there is a session, carries a token that must
match a cookie set with the form (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Request, Response

from ..api.auth import Caller, token_by_id
from ..store import Store, web_sessions

COOKIE = "mash_session"
SIGNIN_COOKIE = "mash_signin"  # the sign-in form's double-submit token
CSRF_FIELD = "csrf"
IDLE = timedelta(minutes=30)  # signed out after this long without a page
LIFETIME = timedelta(hours=12)  # and after this long whatever happens
SEEN_EVERY = timedelta(minutes=1)  # "last seen" is written at most this often


class SignInNeeded(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    @property
    def location(self) -> str:
        return "/signin" if self.path in ("/", "/inbox") else \
            f"/signin?next={quote(self.path, safe='/')}"


class BadForm(Exception):
    """A form post without the right csrf token (an old page, or another site)."""


class FormTooLarge(Exception):
    """A form post with more fields than any page sends."""


@dataclass(frozen=True)
class Session:
    caller: Caller
    id_hash: str
    csrf: str

    def check(self, submitted: str | None) -> None:
        if not submitted or not hmac.compare_digest(submitted, self.csrf):
            raise BadForm()


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(store: Store, caller: Caller, now: datetime) -> str:
    """A new session for the caller's token; returns the id for the cookie (shown once)."""
    session_id = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))
        conn.execute(web_sessions.insert().values(
            id_hash=_hash(session_id), token_id=caller.token_id, csrf=secrets.token_hex(32),
            created_at=now, last_seen_at=now, expires_at=now + LIFETIME))
    return session_id


def close_session(store: Store, id_hash: str) -> None:
    with store.transaction() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.id_hash == id_hash))


def set_cookie(answer: Response, request: Request, session_id: str) -> None:
    answer.set_cookie(COOKIE, session_id, max_age=int(LIFETIME.total_seconds()), path="/",
                      httponly=True, samesite="strict", secure=request.url.scheme == "https")


def clear_cookie(answer: Response) -> None:
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def session_from(request: Request) -> Session | None:
    session_id = request.cookies.get(COOKIE, "")
    if not session_id or len(session_id) > 100:
        return None
    engine: Any = request.app.state.engine
    store: Store = engine.store
    now: datetime = engine.clock.now()
    id_hash = _hash(session_id)
    with store.reading() as conn:
        row = conn.execute(sa.select(web_sessions)
                           .where(web_sessions.c.id_hash == id_hash)).first()
    if row is None:
        return None
    caller = None
    if now < row.expires_at and now - row.last_seen_at < IDLE:
        caller = token_by_id(store, row.token_id, now)
    if caller is None:  # lapsed, or its token revoked or expired: gone for good
        close_session(store, id_hash)
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        with store.transaction() as conn:
            conn.execute(web_sessions.update().where(web_sessions.c.id_hash == id_hash)
                         .values(last_seen_at=now))
    return Session(caller, id_hash, row.csrf)


def signed_in(request: Request) -> Session:
    """FastAPI dependency of every page but the sign-in form."""
    found = session_from(request)
    if found is None:
        raise SignInNeeded(request.url.path)
    return found


def signin_token(request: Request) -> str:
    """The sign-in form's double-submit token: the cookie's if it has one, else a new one."""
    found = request.cookies.get(SIGNIN_COOKIE, "")
    return found if 20 <= len(found) <= 100 else secrets.token_urlsafe(32)


def set_signin_cookie(answer: Response, request: Request, token: str) -> None:
    answer.set_cookie(SIGNIN_COOKIE, token, path="/signin", httponly=True, samesite="strict",
                      secure=request.url.scheme == "https")


def check_signin(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise BadForm()


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a path of this site, never another host."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/inbox"
    return path
