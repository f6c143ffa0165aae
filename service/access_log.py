"""One JSON line per request on the `textsep.access` logger, in place of uvicorn's access log.

A line says who asked what and how it went (request ID, route, status, time per stage, audio
seconds, bytes each way) but carries no audio, no headers (so no API key) and no query text unless
TEXTSEP_LOG_QUERIES allows it: queries can be personal data.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter
from starlette.types import Scope

logger = logging.getLogger("textsep.access")


def configure() -> None:
    """Access lines to stdout as bare JSON objects, apart from the human-readable application log."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("{asctime}{message}", style="{", rename_fields={"asctime": "time"}))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def server_timing_ms(header: str) -> dict[str, float]:
    """`decode;dur=1.2, embed;dur=0.0` -> {"decode": 1.2, "embed": 0.0}: the stages the client was told."""
    stages = {}
    for part in filter(None, (part.strip() for part in header.split(","))):
        name, _, duration = part.partition(";dur=")
        stages[name] = float(duration or 0)
    return stages


class AccessLog:
    def __init__(self, log_queries: bool):
        self.log_queries = log_queries

    def write(
        self,
        scope: Scope,
        *,
        request_id: str,
        route: str,
        status: int,
        seconds: float,
        bytes_in: int,
        bytes_out: int,
        server_timing: str,
    ) -> None:
        # The /separate handler leaves what only it knows in the request state.
        state = scope.get("state", {})
        line = {
            "request_id": request_id,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "stages_ms": server_timing_ms(server_timing),
            "audio_seconds": state.get("audio_seconds"),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
        }
        if self.log_queries and "query" in state:
            line["query"] = state["query"]
        logger.info("request", extra=line)
