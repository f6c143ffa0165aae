"""Optional API keys: `Authorization: Bearer <key>` on every route but health, readiness and the docs.

A pure ASGI middleware rather than a FastAPI dependency, so that a request without a valid key is
refused before its body is read: an unauthenticated client cannot make the server take in an upload.
Keys are compared in constant time, each against every configured key, and never logged.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response

# Load balancers, the web page and people reading the docs need no key; /metrics is open unless a
# setting says so. The page's own calls to the API do need one.
OPEN_PATHS = frozenset({"/", "/favicon.ico", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json"})
OPEN_PREFIXES = ("/static/", "/docs/assets/")


class ApiKeys:
    def __init__(self, app: ASGIApp, keys: list[str], metrics_need_key: bool):
        self.app = app
        self.keys = [key.encode() for key in keys]
        self.open_paths = OPEN_PATHS if metrics_need_key else OPEN_PATHS | {"/metrics"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_open(scope["path"]) or self.authorized(scope):
            return await self.app(scope, receive, send)
        response = error_response(
            401,
            "unauthorized",
            "this route needs `Authorization: Bearer <key>` with a valid API key",
            {"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(OPEN_PREFIXES)

    def authorized(self, scope: Scope) -> bool:
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        given = token.strip().encode("latin-1")  # as the header came: bytes compare in constant time
        # Every key is compared (no early exit), so the time taken does not tell which key was close.
        matches = [hmac.compare_digest(given, key) for key in self.keys]
        return scheme.lower() == "bearer" and any(matches)
