"""Signing in to the pages: a person pastes their API token once; it is kept in an HttpOnly,
SameSite=Strict cookie and checked on every request exactly as the API checks a Bearer
token, so a page shows what that token's roles may see and nothing more.

Forms that change something also carry a token derived from the session (`csrf`), a
second lock beside SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from ..api.auth import Caller, caller_for

COOKIE = "mash_session"
CSRF_FIELD = "csrf"


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
    """A form post without the session's csrf token (an old page, or another site)."""


@dataclass(frozen=True)
class Session:
    caller: Caller
    token: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    def check(self, submitted: str | None) -> None:
        if not submitted or not hmac.compare_digest(submitted, self.csrf):
            raise BadForm()


def csrf_for(token: str) -> str:
    return hmac.new(b"mash-web-form", token.encode("utf-8"), hashlib.sha256).hexdigest()


def session_from(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE, "")
    caller = caller_for(request.app.state.engine.store, token) if token else None
    return None if caller is None else Session(caller, token)


def signed_in(request: Request) -> Session:
    """FastAPI dependency of every page but the sign-in form."""
    found = session_from(request)
    if found is None:
        raise SignInNeeded(request.url.path)
    return found


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a path of this site, never another host."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/inbox"
    return path
