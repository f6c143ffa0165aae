"""One record per request: what the handler learns about a request (time per stage, seconds of
audio, the queries), written once as it goes, rendered to the `Server-Timing` header by the
handler and logged by the access log when the request is over. The middleware creates it and puts
it in the request's state; nothing parses a header back."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.requests import Request


@dataclass
class RequestRecord:
    request_id: str
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage, in the order they ran
    audio_seconds: float | None = None  # of the upload, once decoded
    queries: list[str] | None = None

    @classmethod
    def of(cls, request: Request) -> RequestRecord:
        return request.state.record

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.stages[name] = self.stages.get(name, 0.0) + seconds

    def server_timing(self) -> str:
        """The stages as a `Server-Timing` header value, in milliseconds."""
        return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in self.stages.items())


def parse_server_timing(header: str) -> dict[str, float]:
    """`decode;dur=1.2, embed;dur=0.0` -> {"decode": 0.0012, "embed": 0.0}, in seconds: for clients
    (the benchmarks) that read the header a server sent."""
    stages = {}
    for part in filter(None, (part.strip() for part in header.split(","))):
        name, _, duration = part.partition(";dur=")
        stages[name] = float(duration or 0) / 1000
    return stages
