"""What a browser gets from the service: the web page at `/` (plain HTML, CSS and JS from
`service/static/`), its favicon, and the API docs at `/docs` (Swagger UI) and `/redoc` (ReDoc).
Everything is served by the service itself, so all of it works offline: the docs' JavaScript and CSS
come from the `fastapi-offline` package's copy of Swagger UI and ReDoc, not from a CDN. Each page's
Content-Security-Policy makes the browser itself refuse anything from elsewhere. None of these
routes is in the OpenAPI schema, which describes the API only."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
# swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js, as the fastapi-offline package ships them
DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
DOCS_ASSETS_URL = "/docs/assets"
FAVICON_URL = "/static/favicon.svg"
# The browser itself refuses anything not from this server (a CDN, say); players and downloads
# use blob: URLs of audio the page already holds.
CONTENT_SECURITY_POLICY = "default-src 'self'; media-src 'self' blob:"
# The docs' own needs on top of that: Swagger UI's one inline script (allowed by its hash, so no
# other inline script runs), ReDoc's and Swagger UI's generated styles, their data: images, and
# ReDoc's search worker, made from a blob: URL.
DOCS_POLICY = (
    "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:"
)


def install_page(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        # Browsers ask for it on pages that name no icon (the JSON of /openapi.json, say): answer, not 404.
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def install_docs(app: FastAPI) -> None:
    """/docs and /redoc on assets served here; the app must be made with docs_url=None, redoc_url=None."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    swagger = offline(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=FAVICON_URL,
            # No badge from the public validator service: it would send the schema's address out.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
    )
    redoc = offline(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - API reference",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=FAVICON_URL,
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(*swagger)

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(*redoc)


def offline(page: HTMLResponse) -> tuple[str, int, dict[str, str]]:
    """The page's HTML, status and a policy that allows exactly its own inline scripts (by hash) and this server."""
    html = page.body.decode()
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" for script in inline]
    return html, 200, {"Content-Security-Policy": DOCS_POLICY.format(scripts=" ".join(["'self'", *hashes]))}
