"""Management information under the API, for managers and admins (engine/reports):

- `GET /reports/timeliness?from=&to=&rag=&channel=&outcome=&team=`: the dashboard's
  numbers as JSON.
- `GET /reports/heatmap/{process}?from=&to=`: per diagram element, how many passed it in
  the period and the median and 90th percentile of the time spent there.
- `GET /reports/contacts?from=&to=&format=json|csv|xlsx&names=false`: the contacts
  register; `names=true` adds children's names for the roles allowed them (else 403).

Periods are days on the Hub's wall clock (`YYYY-MM-DD`, both ends included; the last 28
days by default).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Header, Query
from fastapi.responses import JSONResponse, Response

from ..deployments import UnknownProcess
from ..queries import jsonable
from ..reports import ReportError, may_see, may_see_names
from ..reports.reader import reports_for
from ..reports.register import as_csv, as_xlsx
from ..service import Engine
from .auth import Caller, caller_for

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Refusal(Exception):
    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def routes(app: FastAPI, engine: Engine) -> None:
    reports = reports_for(engine)

    @app.exception_handler(_Refusal)
    def _refused(_: Any, err: _Refusal) -> JSONResponse:
        return JSONResponse({"errors": [{"field": err.field, "message": err.message}]},
                            status_code=err.status)

    @app.exception_handler(ReportError)
    def _bad(_: Any, err: ReportError) -> JSONResponse:
        return JSONResponse({"errors": [{"field": err.field, "message": err.message}]},
                            status_code=422)

    def manager(authorization: str | None = Header(default=None)) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        found = caller_for(engine.store, token.strip(), engine.clock.now()) \
            if scheme.lower() == "bearer" else None
        if found is None:
            raise _Refusal(401, "authorization", "give a valid token: Authorization: Bearer TOKEN")
        if not may_see(found.roles):
            raise _Refusal(403, "role", "management information needs a manager's role or admin")
        return found

    @app.get("/reports/timeliness")
    def timeliness(from_: str | None = Query(default=None, alias="from"),
                   to: str | None = Query(default=None), rag: str | None = None,
                   channel: str | None = None, outcome: str | None = None,
                   team: str | None = None, who: Caller = Depends(manager)) -> Any:
        period = reports.period(from_, to)
        return jsonable(reports.timeliness(period, reports.filters(rag, channel, outcome, team)))

    @app.get("/reports/heatmap/{process_id}")
    def heat(process_id: str, from_: str | None = Query(default=None, alias="from"),
             to: str | None = Query(default=None), who: Caller = Depends(manager)) -> Any:
        period = reports.period(from_, to)
        try:
            return jsonable(reports.heatmap(process_id, period))
        except UnknownProcess:
            raise _Refusal(404, "process", f"{process_id!r} is not a deployed process") from None

    @app.get("/reports/contacts")
    def contacts(from_: str | None = Query(default=None, alias="from"),
                 to: str | None = Query(default=None), rag: str | None = None,
                 channel: str | None = None, outcome: str | None = None,
                 team: str | None = None, format: str = "json", names: bool = False,
                 who: Caller = Depends(manager)) -> Any:
        if format not in ("json", "csv", "xlsx"):
            raise _Refusal(422, "format", "must be json, csv or xlsx")
        if names and not may_see_names(who.roles):
            raise _Refusal(403, "names", "children's names need the MASH Team Manager role "
                                         "or admin; leave names out")
        period = reports.period(from_, to)
        found = reports.register(period, reports.filters(rag, channel, outcome, team), names)
        filename = f"contacts-{period.first}-to-{period.last}"
        if format == "csv":
            return Response(as_csv(found).encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"',
                                     "Cache-Control": "no-store"})
        if format == "xlsx":
            return Response(as_xlsx(found), media_type=XLSX,
                            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"',
                                     "Cache-Control": "no-store"})
        return {"period": period.as_dict(), "columns": [{"key": k, "title": t}
                                                        for k, t in found.columns],
                "contacts": found.rows}
