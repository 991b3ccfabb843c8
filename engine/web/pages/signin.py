"""Sign in with an API token, sign out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ...api.auth import caller_for
from ...service import Engine
from ..formfields import Posted
from ..render import page
from ..session import (
    CSRF_FIELD,
    check_signin,
    clear_cookie,
    close_session,
    open_session,
    safe_next,
    session_from,
    set_cookie,
    set_signin_cookie,
    signin_token,
)
from .common import first, posted


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()

    @pages.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/inbox", status_code=303)

    def form(request: Request, target: str, error: str | None = None, status: int = 200,
             signed_out: bool = False) -> Response:
        token = signin_token(request)
        answer = page("signin.html", status=status, next=target, error=error,
                      signed_out=signed_out, csrf=token)
        set_signin_cookie(answer, request, token)
        return answer

    @pages.get("/signin", include_in_schema=False)
    def signin_form(request: Request, next: str | None = None,
                    signed_out: str | None = None) -> Response:
        if session_from(request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return form(request, safe_next(next), signed_out=signed_out is not None)

    @pages.post("/signin", include_in_schema=False)
    def signin(request: Request, posted_form: Posted = Depends(posted)) -> Response:
        check_signin(request, first(posted_form, CSRF_FIELD))
        token = (first(posted_form, "token") or "").strip()
        target = safe_next(first(posted_form, "next"))
        if not token:
            return form(request, target, "Enter your access token", 401)
        caller = caller_for(engine.store, token, engine.clock.now())
        if caller is None:
            return form(request, target, "That access token is not valid (or has expired or "
                                         "been revoked): check it, or ask for a new one", 401)
        answer = RedirectResponse(target, status_code=303)
        set_cookie(answer, request, open_session(engine.store, caller, engine.clock.now()))
        return answer

    @pages.post("/signout", include_in_schema=False)
    def signout(request: Request, posted_form: Posted = Depends(posted)) -> Response:
        found = session_from(request)
        if found is not None:
            found.check(first(posted_form, CSRF_FIELD))
            close_session(engine.store, found.id_hash)
        answer = RedirectResponse("/signin?signed_out=1", status_code=303)
        clear_cookie(answer)
        return answer

    return pages

