"""ASGI middleware: the upload size limit (enforced while the body streams in) and the per-request
context (X-Request-ID, request count and latency by route and status)."""

from __future__ import annotations

import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError
from service.metrics import Metrics

# Echo a client's request ID only if it is short and plain, so it is safe in headers and logs.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


class UploadLimit:
    """413 once a request body passes `max_bytes`, without reading the rest of it.

    A declared Content-Length over the limit is refused before the first byte is read (so a client
    that sent `Expect: 100-continue` never sends the body). The error is raised from `receive`,
    inside the route, so the app's error handler writes it like any other error."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        content_length = Headers(scope=scope).get("content-length", "")
        declared = int(content_length) if content_length.isdigit() else 0
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared > self.max_bytes:
                raise self.error()
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self.error()
            return message

        await self.app(scope, limited_receive, send)

    def error(self) -> ApiError:
        # Connection: close makes uvicorn hang up after the answer instead of reading the rest.
        message = f"the request body is over {self.max_bytes} bytes"
        return ApiError(413, "upload_too_large", message, {"Connection": "close"})


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client_id = Headers(scope=scope).get("x-request-id", "")
        request_id = client_id if CLIENT_REQUEST_ID.fullmatch(client_id) else uuid.uuid4().hex
        status = 500  # what the client sees if the app raises before answering
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")  # the matched route template keeps label cardinality bounded
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - start)
