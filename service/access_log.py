"""One JSON line per request on the `textsep.access` logger, in place of uvicorn's access log.

A line says who asked what and how it went (request ID, route and path, status, time per stage, audio
seconds, bytes each way) but carries no audio, no headers (so no API key) and no query text unless
TEXTSEP_LOG_QUERIES allows it: queries can be personal data.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from service.record import RequestRecord

logger = logging.getLogger("textsep.access")


def configure() -> None:
    """Access lines to stdout as bare JSON objects, apart from the human-readable application log."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("{asctime}{message}", style="{", rename_fields={"asctime": "time"}))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class AccessLog:
    def __init__(self, log_queries: bool):
        self.log_queries = log_queries

    def write(
        self,
        record: RequestRecord,
        *,
        method: str,
        route: str,
        path: str,
        status: int,
        seconds: float,
        bytes_in: int,
        bytes_out: int,
    ) -> None:
        line = {
            "request_id": record.request_id,
            "method": method,
            "route": route,
            "path": path,  # the route template bounds metric labels; the log can say what was asked for (a 404's path)
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "stages_ms": {name: round(stage * 1000, 1) for name, stage in record.stages.items()},
            "audio_seconds": record.audio_seconds,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
        }
        if self.log_queries and record.queries is not None:
            line["query"] = record.queries[0] if len(record.queries) == 1 else record.queries
        logger.info("request", extra=line)
