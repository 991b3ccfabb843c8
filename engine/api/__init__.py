"""The HTTP API (FastAPI): the calls in docs/api.md, described at /openapi.json."""
