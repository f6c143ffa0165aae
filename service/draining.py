"""Shutting down without dropping work, and saying so while it lasts.

The first SIGTERM (or Ctrl-C) starts a drain: the runtime's phase turns `draining`, so /readyz
answers 503 `draining` (Kubernetes and the load balancer stop sending work), and a new /separate
gets 503 `not_ready` with `Retry-After` and `Connection: close` before a byte of its upload is read.
The listening socket stays open all the while, so clients are told rather than refused. Every
request begun before the signal runs to its end (one whose upload was still arriving is answered
503 by its handler once the form is in: it had not been accepted yet). Once none is left, uvicorn's
own shutdown closes the socket, the model is let go and the process exits 0. The drain lasts as long
as that accepted work takes, which TEXTSEP_REQUEST_TIMEOUT_S bounds. A second signal stops waiting
for it: uvicorn's shutdown starts at once (it still lets open requests finish; a third Ctrl-C
forces it).
"""

from __future__ import annotations

import logging

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response
from service.runtime import Phase, Runtime

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # another replica takes it now; this one may be back (restarted) in about that


class DrainGate:
    """ASGI middleware: counts the requests begun before a drain (the runtime's `open_requests`)
    and, during one, refuses new /separate requests before their body is read."""

    def __init__(self, app: ASGIApp, runtime: Runtime):
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.runtime.phase is Phase.DRAINING:
            if scope["path"] == "/separate":
                # Connection: close, so the client does not send the upload and reconnects elsewhere.
                headers = {"Retry-After": str(RETRY_AFTER_S), "Connection": "close"}
                refusal = error_response(503, "not_ready", "the server is not ready: draining", headers)
                return await refusal(scope, receive, send)
            return await self.app(scope, receive, send)  # /readyz says `draining`; the rest answer as usual
        # No await between the phase check and the count: a signal handled on this thread cannot
        # slip in between, so no request is left uncounted when a drain starts.
        self.runtime.open_requests += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.runtime.open_requests -= 1


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose first exit signal drains (see above) instead of closing the socket."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime):
        super().__init__(config)
        self.runtime = runtime
        self.draining = False
        self.announced = False

    def handle_exit(self, sig, frame) -> None:
        if self.draining:  # a second signal: stop waiting
            return super().handle_exit(sig, frame)
        self.draining = True  # only flags here: this runs inside a signal handler
        self.runtime.drain()

    async def on_tick(self, counter: int) -> bool:
        """Every 0.1 s in uvicorn's main loop: once drained, let uvicorn's shutdown begin."""
        if self.draining and not self.announced:
            self.announced = True
            logger.info("draining: %d request(s) to finish before shutting down", self.runtime.open_requests)
        if self.draining and not self.should_exit and self.runtime.open_requests == 0:
            logger.info("drained: every accepted request is answered")
            self.should_exit = True
        return await super().on_tick(counter)
