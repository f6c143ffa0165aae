"""The web page at `/`: plain HTML, CSS and JS from `service/static/`, served by the service itself,
so it works offline. The routes stay out of the OpenAPI schema, which describes the API only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
# The browser itself refuses anything not from this server (a CDN, say); players and downloads
# use blob: URLs of audio the page already holds.
CONTENT_SECURITY_POLICY = "default-src 'self'; media-src 'self' blob:"


def install_page(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
