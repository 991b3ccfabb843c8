"""The HTTP API (FastAPI): the core calls in ../shared/API.md plus what the web pages use."""
