"""Sign in with an API token, sign out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...api.auth import caller_for
from ...service import Engine
from ..formfields import Posted
from ..render import page
from ..session import COOKIE, CSRF_FIELD, safe_next, session_from
from .common import first, posted

SESSION_SECONDS = 12 * 3600  # a working day and then some; signing out ends it sooner


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()

    @pages.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/inbox", status_code=303)

    @pages.get("/signin", include_in_schema=False)
    def signin_form(request: Request, next: str | None = None,
                    signed_out: str | None = None) -> Response:
        if session_from(request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return page("signin.html", next=safe_next(next), error=None,
                    signed_out=signed_out is not None)

    @pages.post("/signin", include_in_schema=False)
    def signin(request: Request, form: Posted = Depends(posted)) -> Response:
        token = (first(form, "token") or "").strip()
        target = safe_next(first(form, "next"))
        if not token:
            return _again(target, "Enter your access token")
        if caller_for(engine.store, token) is None:
            return _again(target, "That access token is not valid: check it, or ask for a new one")
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, path="/", httponly=True,
                          samesite="strict", secure=request.url.scheme == "https")
        return answer

    @pages.post("/signout", include_in_schema=False)
    def signout(request: Request, form: Posted = Depends(posted)) -> Response:
        found = session_from(request)
        if found is not None:
            found.check(first(form, CSRF_FIELD))
        answer = RedirectResponse("/signin?signed_out=1", status_code=303)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    return pages


def _again(target: str, error: str) -> HTMLResponse:
    return page("signin.html", status=401, next=target, error=error, signed_out=False)
