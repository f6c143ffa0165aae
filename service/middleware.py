"""ASGI middleware: the upload size and time limits (enforced while the body streams in), the
request timeout, and the per-request context (X-Request-ID, request count and latency by route and
status, the access log)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.access_log import AccessLog
from service.errors import ApiError, error_response
from service.metrics import Metrics
from service.record import RequestRecord

# Echo a client's request ID only if it is short and plain, so it is safe in headers and logs.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


class UploadLimit:
    """413 once a request body passes `max_bytes`, 408 once it has taken over `timeout_s` to arrive,
    without reading the rest of it: neither a huge upload nor a trickling one can hold a connection.

    A declared Content-Length over the limit is refused before the first byte is read (so a client
    that sent `Expect: 100-continue` never sends the body). The error is raised from `receive`,
    inside the route, so the app's error handler writes it like any other error."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        content_length = Headers(scope=scope).get("content-length", "")
        declared = int(content_length) if content_length.isdigit() else 0
        received = 0
        deadline: float | None = None  # the clock starts when the route first asks for the body
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, deadline, body_done
            if body_done:  # only the disconnect is left to wait for, as long as it takes
                return await receive()
            if declared > self.max_bytes:
                raise self.too_large()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout_s
            try:
                message = await asyncio.wait_for(receive(), deadline - loop.time())
            except asyncio.TimeoutError:
                reason = f"the request body took over {self.timeout_s:g} s to arrive"
                raise ApiError(408, "upload_timeout", reason, {"Connection": "close"}) from None
            if message["type"] == "http.disconnect":  # gone mid-upload: nginx's 499, for the log and metrics
                raise ApiError(499, "client_disconnected", "the client closed the connection during the upload")
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self.too_large()
            body_done = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)

    def too_large(self) -> ApiError:
        # Connection: close makes uvicorn hang up after the answer instead of reading the rest.
        message = f"the request body is over {self.max_bytes} bytes (set TEXTSEP_MAX_UPLOAD_BYTES to raise it)"
        return ApiError(413, "upload_too_large", message, {"Connection": "close"})


class RequestTimeout:
    """503 for a request not answered within `seconds`. The route is cancelled, which drops its
    chunks still queued in the batcher, so a request stuck behind a long queue frees its place."""

    def __init__(self, app: ASGIApp, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        answering = False

        async def tracking_send(message: Message) -> None:
            nonlocal answering
            answering = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive, tracking_send), self.seconds)
        except asyncio.TimeoutError:
            if answering:  # too late for a status: uvicorn closes the half-sent answer
                raise
            message = f"the request was not answered within {self.seconds:g} s"
            await error_response(503, "request_timeout", message)(scope, receive, send)


class RequestContext:
    """X-Request-ID, the request metrics and the access log line: everything said about a request
    once it is over, whoever answered it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog):
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client_id = Headers(scope=scope).get("x-request-id", "")
        request_id = client_id if CLIENT_REQUEST_ID.fullmatch(client_id) else uuid.uuid4().hex
        status = 500  # what the client sees if the app raises before answering
        bytes_in = bytes_out = 0
        record = RequestRecord(request_id)
        scope.setdefault("state", {})["record"] = record  # the handler's: `RequestRecord.of(request)`
        start = time.perf_counter()

        async def counting_receive() -> Message:
            nonlocal bytes_in
            message = await receive()
            bytes_in += len(message.get("body", b""))
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, bytes_out
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            bytes_out += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_id)
        finally:
            route = scope.get("route")  # the matched route template keeps label cardinality bounded
            label = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - start
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.latency.labels(label).observe(seconds)
            self.access_log.write(
                record,
                method=scope["method"],
                route=label,
                path=scope["path"],
                status=status,
                seconds=seconds,
                bytes_in=bytes_in,
                bytes_out=bytes_out,
            )
