"""Soak and overload: mixed traffic against a live server, watching its memory, threads and files.

    python -m bench.soak --minutes 30               # a soak against a server of its own
    python -m bench.soak --minutes 30 --clients 8   # busier
    python -m bench.soak --overload                 # twice the load it can serve: how it sheds

The soak's clients loop over a seeded mix: uploads of several lengths, rates, channel counts and
formats, uploads that are not audio, a client that hangs up mid-request, and the small GET routes.
Every answer must be the one its kind expects (a hang-up expects none); the server process is
sampled from /proc once a second, and growth is taken from the end of the warm-up, once the
allocator, the thread pools and the embedding cache have settled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from bench.workload import QUERIES
from service.record import parse_server_timing

HANG_UP_AFTER_S = 0.2


@dataclass(frozen=True)
class ProcessSample:
    at: float
    rss: int  # bytes
    peak_rss: int  # VmHWM
    threads: int
    fds: int


def process_sample(pid: int) -> ProcessSample:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return ProcessSample(
        at=time.monotonic(),
        rss=int(status["VmRSS"].split()[0]) * 1024,
        peak_rss=int(status["VmHWM"].split()[0]) * 1024,
        threads=int(status["Threads"]),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
    )


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    expect: int | None  # None: the client hangs up before the answer
    files: dict | None = None
    data: dict | None = None


def audio_bytes(rng: np.random.Generator, seconds: float, rate: int, channels: int, format: str) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    samples = np.stack([0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) for _ in range(channels)], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), rate, format=format)
    return buffer.getvalue()


def traffic_mix(seed: int = 11) -> list[Request]:
    """A seeded cycle of requests; about one in four is not a plain, valid upload."""
    rng = np.random.default_rng(seed)
    mix = []
    for i in range(24):
        seconds, rate = float(rng.choice([0.5, 1.5, 4.0, 9.0])), int(rng.choice([8000, 16000, 44100]))
        format = str(rng.choice(["WAV", "FLAC", "OGG"]))
        upload = {"file": (f"clip.{format.lower()}", audio_bytes(rng, seconds, rate, 1 + i % 2, format))}
        mix.append(Request("separate", "POST", "/separate", 200, upload, {"query": QUERIES[i % len(QUERIES)]}))
        if i % 4 == 1:
            mix.append(
                Request("not audio", "POST", "/separate", 415, {"file": ("x", rng.bytes(20_000))}, {"query": "x"})
            )
        if i % 4 == 2:  # long enough to be cut off while queued or running
            long = {"file": ("long.wav", audio_bytes(rng, 30.0, 16000, 1, "WAV"))}
            mix.append(Request("hang-up", "POST", "/separate", None, long, {"query": "a hum"}))
        if i % 4 == 3:
            mix.append(Request(str(rng.choice(["/healthz", "/readyz", "/v1/info", "/metrics"])), "GET", "", 200))
    return mix


@dataclass
class SoakResult:
    seconds: float
    warmup_s: float
    clients: int
    answers: Counter = field(default_factory=Counter)  # "kind status" -> count
    errors: list[str] = field(default_factory=list)
    samples: list[ProcessSample] = field(default_factory=list)

    def growth(self) -> dict:
        """RSS from the end of the warm-up to the end (relative). Threads and open files come and go
        with the thread pools and connections, so their counts are the most seen during the warm-up,
        the most seen after it, and the count at the end: a leak shows as after > during."""
        start = self.samples[0].at + self.warmup_s
        warmup = [sample for sample in self.samples if sample.at < start]
        settled = [sample for sample in self.samples if sample.at >= start]
        first, last = settled[0], settled[-1]
        return {
            "rss_start_mib": first.rss / 2**20,
            "rss_end_mib": last.rss / 2**20,
            "rss_max_mib": max(s.rss for s in settled) / 2**20,
            "rss_growth": last.rss / first.rss - 1,
            "rss_mib_20_points": [round(s.rss / 2**20) for s in self.samples[:: max(1, len(self.samples) // 20)]],
            **{
                what: {
                    "warmup_max": max(getattr(s, what) for s in warmup),
                    "after_max": max(getattr(s, what) for s in settled),
                    "end": getattr(last, what),
                }
                for what in ("threads", "fds")
            },
        }

    def summary(self) -> dict:
        return {
            "seconds": self.seconds,
            "warmup_s": self.warmup_s,
            "clients": self.clients,
            "requests": sum(self.answers.values()),
            "answers": dict(sorted(self.answers.items())),
            "errors": self.errors[:20],
            **self.growth(),
        }


async def send(client: httpx.AsyncClient, request: Request) -> int:
    if request.method == "GET":
        return (await client.get(request.kind)).status_code
    return (await client.post(request.path, files=request.files, data=request.data)).status_code


async def soak(url: str, pid: int, seconds: float, clients: int = 3, warmup_s: float = 20.0) -> SoakResult:
    result = SoakResult(seconds, warmup_s, clients)
    mix = traffic_mix()
    end = time.monotonic() + seconds

    async def client_loop(index: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            for turn in range(index, 10**9, clients):  # the clients interleave over the one mix
                if time.monotonic() >= end:
                    return
                request = mix[turn % len(mix)]
                try:
                    if request.expect is None:  # hang up mid-request: the server must drop the work
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(send(client, request), HANG_UP_AFTER_S)
                        result.answers[f"{request.kind} -"] += 1
                        continue
                    status = await send(client, request)
                except httpx.HTTPError as error:
                    status = f"{type(error).__name__}"
                result.answers[f"{request.kind} {status}"] += 1
                if status != request.expect:
                    result.errors.append(f"{request.kind}: {status}, expected {request.expect}")

    async def sampler() -> None:
        while time.monotonic() < end:
            result.samples.append(process_sample(pid))
            await asyncio.sleep(1.0)

    await asyncio.gather(sampler(), *(client_loop(i) for i in range(clients)))
    await asyncio.sleep(1.0)  # the last hang-up's chunks are dropped; then one more look
    result.samples.append(process_sample(pid))
    return result


@dataclass
class OverloadResult:
    capacity: float  # requests per second served one at a time (the model time of a request alone)
    offered: float  # requests per second sent, whatever the answers
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    retry_after: list[int] = field(default_factory=list)  # from every 503
    valid_answers: int = 0  # 200s whose audio has the upload's length
    max_queue_seconds: float = 0.0
    baseline_rss: int = 0
    peak_rss: int = 0

    def summary(self) -> dict:
        answered = self.statuses[200]
        return {
            "capacity_per_s": self.capacity,
            "offered_per_s": self.offered,
            "seconds": self.seconds,
            "statuses": dict(self.statuses),
            "served_per_s": answered / self.seconds,
            "offered_over_served": self.offered * self.seconds / max(1, answered),
            "shed_share": self.statuses[503] / max(1, sum(self.statuses.values())),
            "retry_after_s": sorted(set(self.retry_after)),
            "valid_answers": self.valid_answers,
            "max_queue_seconds": self.max_queue_seconds,
            "peak_rss_growth_mib": (self.peak_rss - self.baseline_rss) / 2**20,
        }


async def overload(url: str, pid: int, clip: bytes, seconds: float = 15.0, factor: float = 2.0) -> OverloadResult:
    """Send `factor` times the rate of requests served one at a time, open-loop: each request at its
    time, whether or not earlier ones were answered. That rate comes from the model time of a request
    alone (its `inference` stage); batching lets a queued server do somewhat better, so the summary
    also gives the rate actually served, and offered / served is the real overload."""
    frames = sf.info(io.BytesIO(clip)).frames
    form = {"files": {"file": ("clip.wav", clip)}, "data": {"query": "a humming tone"}}
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        await client.post("/separate", **form)  # the query's embedding is cached from here on
        alone = [await client.post("/separate", **form) for _ in range(3)]
        capacity = 1 / float(
            np.median([parse_server_timing(answer.headers["server-timing"])["inference"] for answer in alone])
        )

        Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS counts from here
        result = OverloadResult(capacity, factor * capacity, seconds, baseline_rss=process_sample(pid).rss)

        async def one(at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            answer = await client.post("/separate", **form)
            result.statuses[answer.status_code] += 1
            if answer.status_code == 503:
                result.retry_after.append(int(answer.headers["retry-after"]))
            elif answer.status_code == 200:
                result.valid_answers += sf.info(io.BytesIO(answer.content)).frames == frames

        async def watch_queue() -> None:
            while any(not task.done() for task in requests):
                metrics = (await client.get("/metrics")).text
                queued = next(
                    float(line.split()[-1])
                    for line in metrics.splitlines()
                    if line.startswith("textsep_queue_seconds ")
                )
                result.max_queue_seconds = max(result.max_queue_seconds, queued)
                await asyncio.sleep(0.25)

        begin = time.monotonic()
        count = int(seconds * result.offered)
        requests = [asyncio.create_task(one(begin + i / result.offered)) for i in range(count)]
        await asyncio.gather(watch_queue(), *requests)
        result.peak_rss = process_sample(pid).peak_rss
    return result


def main() -> None:
    from bench.server import BenchServer

    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="soak duration")
    parser.add_argument("--clients", type=int, default=4, help="concurrent soak clients")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds before growth is measured")
    parser.add_argument("--overload", action="store_true", help="the overload run instead of the soak")
    parser.add_argument("--out", type=Path, help="write the summary here as JSON too")
    args = parser.parse_args()
    if args.overload:
        with BenchServer(TEXTSEP_MAX_BATCH="2", TEXTSEP_MAX_QUEUE_SECONDS="120") as server:
            clip = audio_bytes(np.random.default_rng(0), 30.0, 16000, 1, "WAV")
            summary = asyncio.run(overload(server.url, server.process.pid, clip, seconds=30.0)).summary()
    else:
        with BenchServer() as server:
            result = asyncio.run(soak(server.url, server.process.pid, args.minutes * 60, args.clients, args.warmup))
            summary = result.summary()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
