"""Optional API keys: `Authorization: Bearer <key>` on every route but health, readiness and the docs.

A pure ASGI middleware rather than a FastAPI dependency, so that a request without a valid key is
refused before its body is read: an unauthenticated client cannot make the server take in 100 MB.
Keys are compared in constant time, each against every configured key, and never logged.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response

if TYPE_CHECKING:
    from service.settings import Settings

# Load balancers, the web page and people reading the docs need no key; /metrics is open unless a
# setting says so. The page's own calls to the API do need one.
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
OPEN_PREFIXES = ("/static/",)


def parse_keys(text: str, separator: str) -> list[str]:
    """Keys from a setting (comma-separated) or a file (one a line, `#` comments), blanks dropped."""
    return [key for part in text.split(separator) if (key := part.split("#", 1)[0].strip())]


def read_keys_file(path: Path) -> list[str]:
    keys = parse_keys(path.read_text(), "\n")
    if not keys:  # a key file meant to lock the API must not silently leave it open
        raise ValueError(f"the API key file {path} holds no keys")
    return keys


def configured_keys(settings: Settings) -> list[str]:
    """TEXTSEP_API_KEYS and the keys in TEXTSEP_API_KEYS_FILE; none: the API is open."""
    keys = parse_keys(settings.api_keys.get_secret_value(), ",")
    return keys + (read_keys_file(settings.api_keys_file) if settings.api_keys_file else [])


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
