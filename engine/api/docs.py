"""`/docs`: the API's interactive reference, drawn by Swagger UI from files this service
serves itself (engine/web/static/vendor/swagger-ui), so the page loads nothing from another
site. FastAPI's own /docs would fetch its scripts from a CDN; it is switched off."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ..web.render import HEADERS, STATIC

ASSETS = "/docs-assets"

PAGE = f"""<!doctype html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>mash API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{ASSETS}/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS}/vendor/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="{ASSETS}/docs.js"></script>
</body>
</html>
"""


def routes(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE, headers=HEADERS)
