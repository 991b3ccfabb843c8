"""The web pages people at the front door work in (served by `mash serve`).

- `/signin`: sign in with an API token; the service opens a session of its own (the cookie
  holds its id, never the token; see session.py); `/signout` ends it.
- `/inbox`: the open tasks of the person's roles, overdue first, with the time left in Hub
  working time; `/inbox/{task}`: the contact, its history, the task's form, and claiming
  or releasing the task.
- `/case/{instance}`: the diagram drawn with bpmn-js (vendored in `static/vendor/`), the
  current position and the path taken, deadlines and history.
- `/board`: deadlines breached and due today, by role and RAG; incidents; versions running.
- `/incident-list` (admin and managers): cases stopped by a failed step and notifications not
  delivered, with retry and (admin) move to another version.
- `/dashboard`, `/processes/{process}`: management information for managers (timeliness,
  the heat map on the diagram, the contacts register): pages/dashboard.py.

Every page needs a signed-in token and shows only what its roles may see, as the API does.
Addresses hold task and instance ids only, never personal data.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..service import Engine
from .pages import board, case, dashboard, incidents, signin, tasks
from .render import STATIC, page
from .session import BadForm, FormTooLarge, SignInNeeded

ASSETS = "/assets"


def routes(app: FastAPI, engine: Engine) -> None:
    """Mount the web pages on the API app."""

    @app.exception_handler(SignInNeeded)
    def _sign_in(request: Request, err: SignInNeeded) -> Response:
        return RedirectResponse(err.location, status_code=303)

    @app.exception_handler(BadForm)
    def _bad_form(request: Request, err: BadForm) -> Response:
        return page("expired.html", status=400)

    @app.exception_handler(FormTooLarge)
    def _too_large(request: Request, err: FormTooLarge) -> Response:
        return page("too_large.html", status=413)

    for group in (signin, tasks, case, board, dashboard, incidents):
        app.include_router(group.router(engine))
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="web-assets")
